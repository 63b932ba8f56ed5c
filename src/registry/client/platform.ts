import { invalidArgument } from '../../errors';
import type { Descriptor, Platform } from '../../images/models';

/**
 * Platforms as containerd's `platforms` package reads and matches them: "linux",
 * "linux/arm64", "linux/arm/v7"; architectures normalised (x86_64 → amd64, aarch64 → arm64),
 * arm's default variant v7 and arm64's v8 treated as given.
 */
const ARCH_ALIASES: Record<string, string> = { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', armhf: 'arm', armel: 'arm', i386: '386' };
const OS_ALIASES: Record<string, string> = { macos: 'darwin' };
const COMPONENT = /^[a-z0-9_-]+$/;

export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

export function normalizePlatform(p: Platform): Platform {
  const os = OS_ALIASES[p.os.toLowerCase()] ?? p.os.toLowerCase();
  const architecture = ARCH_ALIASES[p.architecture.toLowerCase()] ?? p.architecture.toLowerCase();
  let variant = p.variant?.toLowerCase();
  if (architecture === 'arm64' && (variant === 'v8' || variant === '8')) variant = undefined;
  if (architecture === 'arm' && (variant === undefined || variant === '')) variant = 'v7';
  if (architecture === 'arm' && variant !== undefined && /^\d$/.test(variant)) variant = `v${variant}`;
  if (architecture === 'amd64' && variant === 'v1') variant = undefined;
  return { os, architecture, ...(variant ? { variant } : {}) };
}

/** Reads `--platform`: os[/arch[/variant]]; os alone means the host's architecture. */
export function parsePlatform(spec: string): Platform {
  const parts = spec.trim().toLowerCase().split('/');
  if (parts.length > 3 || parts.some((p) => !COMPONENT.test(p))) throw invalidArgument(`"${spec}": unknown operating system or architecture: invalid argument`);
  const [os, architecture, variant] = parts as [string, string | undefined, string | undefined];
  return normalizePlatform({ os, architecture: architecture ?? DEFAULT_PLATFORM.architecture, ...(variant ? { variant } : {}) });
}

export function platformString(p: Platform): string {
  const n = normalizePlatform(p);
  return [n.os, n.architecture, n.variant].filter((s) => s !== undefined && s !== '').join('/');
}

export function platformMatches(have: Platform | undefined, want: Platform): boolean {
  if (have === undefined) return false;
  const a = normalizePlatform(have);
  const b = normalizePlatform(want);
  return a.os === b.os && a.architecture === b.architecture && (b.variant === undefined || a.variant === b.variant);
}

/**
 * The index entry for `want`: an exact match first; for arm, a lower variant (v6 runs on v7)
 * is not guessed at. Undefined when nothing matches.
 */
export function selectPlatform(manifests: readonly Descriptor[], want: Platform): Descriptor | undefined {
  return manifests.find((d) => platformMatches(d.platform, want));
}
