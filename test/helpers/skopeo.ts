import { existsSync } from 'node:fs';
import { CommandResult, runCommand } from './cli';

/**
 * skopeo 1.9 (Debian) as a registry peer: plain HTTP to 127.0.0.1 registries
 * (--tls-verify=false on each side), an explicit auth file, and --insecure-policy so the
 * host's /etc/containers/policy.json cannot change what a test does.
 */
export const SKOPEO = ['/usr/bin/skopeo', '/usr/local/bin/skopeo'].find((p) => existsSync(p));

export function skopeoSkipReason(): string | undefined {
  return SKOPEO ? undefined : 'skopeo is not installed (scripts/install-deps.sh installs it)';
}

/** `skopeo copy` between any two transports; `docker://` sides get --*-tls-verify=false. */
export function skopeoCopy(src: string, dest: string, options: { authFile?: string; creds?: string; extra?: string[]; timeoutMs?: number } = {}): Promise<CommandResult> {
  const args = ['--insecure-policy', 'copy', '--quiet'];
  if (src.startsWith('docker://')) args.push('--src-tls-verify=false');
  if (dest.startsWith('docker://')) args.push('--dest-tls-verify=false');
  if (options.authFile) args.push('--authfile', options.authFile);
  if (options.creds) {
    if (src.startsWith('docker://')) args.push('--src-creds', options.creds);
    if (dest.startsWith('docker://')) args.push('--dest-creds', options.creds);
  }
  args.push(...(options.extra ?? []), src, dest);
  return skopeo(args, { timeoutMs: options.timeoutMs });
}

/** `skopeo inspect [--raw]` of a registry image: the parsed JSON. */
export async function skopeoInspect(ref: string, options: { raw?: boolean; config?: boolean; authFile?: string; creds?: string } = {}): Promise<Record<string, unknown>> {
  const args = ['inspect', '--tls-verify=false'];
  if (options.raw) args.push('--raw');
  if (options.config) args.push('--config');
  if (options.authFile) args.push('--authfile', options.authFile);
  if (options.creds) args.push('--creds', options.creds);
  const r = await skopeo([...args, ref]);
  if (r.code !== 0) throw new Error(`skopeo inspect ${ref} failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

export function skopeo(args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<CommandResult> {
  if (!SKOPEO) throw new Error('skopeo is not installed');
  return runCommand(SKOPEO, args, { input: options.input, timeoutMs: options.timeoutMs ?? 180_000, env: { REGISTRY_AUTH_FILE: '/nonexistent-auth.json' } });
}

/** Throws with skopeo's stderr unless it succeeded. */
export function mustSucceed(r: CommandResult, what: string): CommandResult {
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.stderr || r.stdout}`);
  return r;
}
