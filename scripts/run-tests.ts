import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { diffSnapshots, snapshotNetwork } from '../test/helpers/host-network';

/**
 * `npm test`: runs the suite with node's test runner (files one at a time), and fails if the
 * suite changed the host's network: interfaces, addresses, routes, policy rules, forwarding
 * switches or firewall rules, recorded before and compared after (test/helpers/host-network.ts).
 * Arguments (files, or folders under dist/) replace the default: the compiled twin of every
 * *.test.ts in src/, test/ and bench/.
 */
const REPO_ROOT = path.resolve(__dirname, '..', '..');
/** A test that hangs fails after this long instead of holding CI until its own limit. */
const TEST_TIMEOUT_MS = 20 * 60_000;

/**
 * The test files, named one by one: node 20 takes a directory but node 22+ reads arguments
 * as globs, and listing the sources skips compiled tests whose source was moved or deleted.
 * `sourceDirs` are relative to the repository (src, test, bench, or a folder inside them).
 */
async function testFiles(sourceDirs: string[]): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await fs.readdir(path.join(REPO_ROOT, dir), { withFileTypes: true })) {
      const rel = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(rel);
      else if (entry.name.endsWith('.test.ts')) found.push(path.join('dist', rel.replace(/\.ts$/, '.js')));
    }
  };
  for (const dir of sourceDirs) await walk(dir);
  return found.sort();
}

/** Each argument as files: a folder under dist/ becomes the compiled tests of its source folder. */
async function expand(targets: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const target of targets) {
    const absolute = path.resolve(target);
    const isDir = await fs.stat(absolute).then((st) => st.isDirectory(), () => false);
    if (!isDir) files.push(absolute);
    else files.push(...(await testFiles([path.relative(path.join(REPO_ROOT, 'dist'), absolute)])).map((f) => path.join(REPO_ROOT, f)));
  }
  return files;
}

async function main(): Promise<number> {
  const targets = process.argv.slice(2);
  const before = await snapshotNetwork();
  const files = targets.length > 0 ? await expand(targets) : await testFiles(['src', 'test', 'bench']);
  const child = spawn(process.execPath, ['--test', '--test-concurrency=1', `--test-timeout=${TEST_TIMEOUT_MS}`, ...files], { cwd: REPO_ROOT, stdio: 'inherit' });
  const code = await new Promise<number>((resolve) => child.on('exit', (status, signal) => resolve(status ?? (signal ? 128 : 1))));
  const changes = diffSnapshots(before, await snapshotNetwork());
  if (changes.length > 0) {
    process.stderr.write(`\nFAIL: the test suite changed the host's network (it must only touch namespaces it owns):\n${changes.join('\n')}\n`);
    return 1;
  }
  process.stdout.write("host network check: interfaces, addresses, routes, rules and firewall unchanged by the suite\n");
  return code;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
