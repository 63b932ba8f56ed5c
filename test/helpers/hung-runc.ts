import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/**
 * A runc that hangs on request, for the daemon's `--runtime-path`: while
 * `<dir>/control/<subcommand>` exists, that subcommand sleeps instead of answering ("after"
 * in the file: it runs the real runc first, then hangs, e.g. a `run` whose container is
 * up). Each hung call appends its pid to `<subcommand>.pids`. Everything else is real runc.
 */
export interface HungRunc {
  /** The wrapper script, for --runtime-path. */
  path: string;
  hang(subcommand: string, mode?: 'before' | 'after'): Promise<void>;
  release(subcommand: string): Promise<void>;
  /** Pids of the calls of `subcommand` that hung so far. */
  hungPids(subcommand: string): Promise<number[]>;
}

export async function makeHungRunc(dir: string): Promise<HungRunc> {
  const realRunc = execFileSync('sh', ['-c', 'command -v runc']).toString().trim();
  const control = path.join(dir, 'control');
  await fs.mkdir(control, { recursive: true });
  const script = path.join(dir, 'runc');
  await fs.writeFile(
    script,
    `#!/bin/sh
control='${control}'
sub=
skip=0
for a in "$@"; do
  if [ $skip = 1 ]; then skip=0; continue; fi
  case "$a" in
    --root|--log|--log-format) skip=1 ;;
    -*) ;;
    *) sub=$a; break ;;
  esac
done
if [ -n "$sub" ] && [ -e "$control/$sub" ]; then
  if [ "$(cat "$control/$sub")" = after ]; then '${realRunc}' "$@"; fi
  echo $$ >> "$control/$sub.pids"
  exec sleep 3600
fi
exec '${realRunc}' "$@"
`,
    { mode: 0o755 },
  );
  return {
    path: script,
    hang: (subcommand, mode = 'before') => fs.writeFile(path.join(control, subcommand), mode),
    release: (subcommand) => fs.rm(path.join(control, subcommand), { force: true }),
    async hungPids(subcommand) {
      const text = await fs.readFile(path.join(control, `${subcommand}.pids`), 'utf8').catch(() => '');
      return text.split('\n').filter(Boolean).map(Number);
    },
  };
}

/** True while `pid` runs (a zombie counts as gone). */
export async function isAlive(pid: number): Promise<boolean> {
  try {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
