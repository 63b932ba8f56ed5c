import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import { invalidArgument, messageOf } from '../../errors';
import { DockerSeccompProfile, DockerSeccompRule, DOCKER_DEFAULT_SECCOMP_PROFILE } from './seccomp-default-profile';
import { OciSeccomp, OciSeccompSyscall } from './oci-types';
import { kernelSupportsX32 } from './kernel-x32';

/** Node's process.arch → the Go/libseccomp arch names used in profiles' includes/excludes. */
const NODE_TO_PROFILE_ARCH: Record<string, string> = {
  x64: 'amd64', ia32: 'x86', arm64: 'arm64', arm: 'arm', s390x: 's390x', ppc64: 'ppc64le', riscv64: 'riscv64',
};
const PROFILE_TO_SCMP_ARCH: Record<string, string> = {
  amd64: 'SCMP_ARCH_X86_64', x86: 'SCMP_ARCH_X86', arm64: 'SCMP_ARCH_AARCH64', arm: 'SCMP_ARCH_ARM',
  s390x: 'SCMP_ARCH_S390X', ppc64le: 'SCMP_ARCH_PPC64LE', riscv64: 'SCMP_ARCH_RISCV64',
};

export interface SeccompTarget {
  /** Bounding capability set (CAP_ names). */
  capabilities: readonly string[];
  /** Profile arch name (amd64, arm64, ...); defaults to this host's. */
  arch?: string;
  /** Kernel release (e.g. "6.1.0"); defaults to this host's. */
  kernel?: string;
  /** Whether the kernel runs x32 programs; defaults to this host's (kernelSupportsX32). */
  x32?: boolean;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((p) => parseInt(p, 10) || 0);
  const pb = b.split(/[.-]/).map((p) => parseInt(p, 10) || 0);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Converts a Docker-format profile to the OCI form for one capability set, as moby's
 * setupSeccomp does: archMap picks the native arch and its sub-arches; a rule is kept
 * when its includes all hold and none of its excludes do.
 */
export function toOciSeccomp(profile: DockerSeccompProfile, target: SeccompTarget): OciSeccomp {
  const arch = target.arch ?? NODE_TO_PROFILE_ARCH[process.arch] ?? process.arch;
  const kernel = target.kernel ?? os.release();
  const caps = target.capabilities;
  if (profile.architectures?.length && profile.archMap?.length) {
    throw invalidArgument("'architectures' and 'archMap' were specified in the seccomp profile, use either 'architectures' or 'archMap'");
  }
  const architectures = [...(profile.architectures ?? [])];
  const nativeScmp = PROFILE_TO_SCMP_ARCH[arch];
  const entry = profile.archMap?.find((a) => a.architecture === nativeScmp);
  // Rules for x32 cannot match on a kernel without the x32 ABI, and runc pays for each arch.
  const x32 = target.x32 ?? kernelSupportsX32();
  if (entry) architectures.push(entry.architecture, ...(entry.subArchitectures ?? []).filter((a) => x32 || a !== 'SCMP_ARCH_X32'));

  const syscalls: OciSeccompSyscall[] = [];
  for (const rule of profile.syscalls ?? []) {
    const ex = rule.excludes ?? {};
    const inc = rule.includes ?? {};
    if (ex.arches?.includes(arch)) continue;
    if (ex.caps?.some((c) => caps.includes(c))) continue;
    if (ex.minKernel && compareVersions(kernel, ex.minKernel) >= 0) continue;
    if (inc.arches?.length && !inc.arches.includes(arch)) continue;
    if (inc.caps?.some((c) => !caps.includes(c))) continue;
    if (inc.minKernel && compareVersions(kernel, inc.minKernel) < 0) continue;
    const call: OciSeccompSyscall = { names: [...rule.names], action: rule.action };
    if (rule.errnoRet !== undefined) call.errnoRet = rule.errnoRet;
    if (rule.args?.length) call.args = rule.args.map((a) => ({ ...a, valueTwo: a.valueTwo ?? 0 }));
    syscalls.push(call);
  }
  const out: OciSeccomp = { defaultAction: profile.defaultAction, syscalls };
  if (profile.defaultErrnoRet !== undefined) out.defaultErrnoRet = profile.defaultErrnoRet;
  if (architectures.length) out.architectures = architectures;
  return out;
}

/** Built default profiles by capability set, arch and kernel: nearly every container asks for the same one. */
const defaultSeccompCache = new Map<string, string>();
const DEFAULT_SECCOMP_CACHE_LIMIT = 64;

/** Docker's default profile for a capability set (a fresh object each call; built once per key). */
export function defaultSeccomp(target: SeccompTarget): OciSeccomp {
  const key = JSON.stringify([[...target.capabilities].sort(), target.arch ?? '', target.kernel ?? '', target.x32 ?? '']);
  let json = defaultSeccompCache.get(key);
  if (json === undefined) {
    json = JSON.stringify(toOciSeccomp(DOCKER_DEFAULT_SECCOMP_PROFILE, target));
    if (defaultSeccompCache.size >= DEFAULT_SECCOMP_CACHE_LIMIT) defaultSeccompCache.clear();
    defaultSeccompCache.set(key, json);
  }
  // Parsing the cached JSON is cheaper than rebuilding, and callers may mutate their copy.
  return JSON.parse(json) as OciSeccomp;
}

/**
 * A custom profile from `--security-opt seccomp=...`: the docker CLI sends the file's
 * JSON content; a path is accepted too for direct engine use.
 */
export function loadSeccompProfile(value: string): DockerSeccompProfile {
  const text = value.trimStart().startsWith('{') ? value : readProfileFile(value);
  try {
    type RawRule = Omit<DockerSeccompRule, 'names'> & { name?: string; names?: string[] };
    const parsed = JSON.parse(text) as Omit<DockerSeccompProfile, 'syscalls'> & { syscalls?: RawRule[] };
    // Old profiles use `name` per rule; normalize to `names`.
    const syscalls = (parsed.syscalls ?? []).map(({ name, names, ...rest }) => ({ ...rest, names: names ?? (name ? [name] : []) }));
    return { ...parsed, syscalls };
  } catch (err: unknown) {
    throw invalidArgument(`Decoding seccomp profile failed: ${messageOf(err)}`, err);
  }
}

function readProfileFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err: unknown) {
    throw invalidArgument(`opening seccomp profile (${file}) failed: ${messageOf(err)}`, err);
  }
}
