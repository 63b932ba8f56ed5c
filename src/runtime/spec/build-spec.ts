import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { invalidArgument } from '../../errors';
import { effectiveCapabilities } from './capabilities';
import { ContainerMountConfig, ContainerRuntimeConfig, ResourceConfig } from './container-config';
import { defaultDeviceCgroupRules, deviceMapping, parseDeviceCgroupRule, walkDevices } from './devices';
import { OciDevice, OciDeviceCgroup, OciLinux, OciMount, OciNamespace, OciResources, OciRlimit, OciSeccomp, OciSpec, RLIM_INFINITY } from './oci-types';
import { defaultSeccomp, loadSeccompProfile, toOciSeccomp } from './seccomp-profile';

export const OCI_VERSION = '1.0.2';
export const DEFAULT_SHM_SIZE = 64 * 1024 * 1024;
/** Where Docker mounts its init (tini) in the container. */
export const INIT_PATH_IN_CONTAINER = '/sbin/docker-init';

/** Docker's masked paths (moby oci.DefaultLinuxSpec plus later additions). */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
];
export const DEFAULT_READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** The options --security-opt may carry, parsed. */
export interface SecurityOptions {
  noNewPrivileges: boolean;
  /** undefined → Docker's default profile; 'unconfined' → none; else a profile (JSON or path). */
  seccomp?: string;
  /** systempaths=unconfined: no masked / read-only /proc paths. */
  unmaskSystemPaths: boolean;
}

export function parseSecurityOptions(opts: readonly string[]): SecurityOptions {
  const out: SecurityOptions = { noNewPrivileges: false, unmaskSystemPaths: false };
  opts.forEach((opt) => {
    if (opt === 'no-new-privileges') {
      out.noNewPrivileges = true;
      return;
    }
    const sep = opt.search(/[=:]/);
    const key = sep < 0 ? opt : opt.slice(0, sep);
    const value = sep < 0 ? '' : opt.slice(sep + 1);
    switch (key) {
      case 'no-new-privileges':
        if (value !== 'true' && value !== 'false') throw invalidArgument(`invalid --security-opt 2: "${opt}"`);
        out.noNewPrivileges = value === 'true';
        return;
      case 'seccomp':
        out.seccomp = value;
        return;
      case 'systempaths':
        if (value !== 'unconfined') throw invalidArgument(`invalid --security-opt 2: "${opt}"`);
        out.unmaskSystemPaths = true;
        return;
      case 'apparmor':
      case 'label':
        return; // neither AppArmor nor SELinux is enabled on berth's hosts; Docker ignores them there too.
      default:
        throw invalidArgument(`invalid --security-opt ${sep < 0 ? 1 : 2}: "${opt}"`);
    }
  });
  return out;
}

/** Docker's default mounts; /dev/shm and /dev/mqueue depend on the IPC mode. */
function defaultMounts(cfg: ContainerRuntimeConfig): OciMount[] {
  const sysOpts = cfg.privileged ? 'rw' : 'ro';
  const mounts: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', sysOpts] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: [sysOpts, 'nosuid', 'noexec', 'nodev'] },
  ];
  // A new mqueue mount shows the queues of the IPC namespace the container is in, the host's
  // with --ipc host: dockerd mounts it so too, and the host needs no /dev/mqueue of its own.
  mounts.push({ destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] });
  if (cfg.ipcMode === 'host') {
    mounts.push({ destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'rprivate'] });
  } else {
    const size = cfg.shmSize && cfg.shmSize > 0 ? cfg.shmSize : DEFAULT_SHM_SIZE;
    mounts.push({ destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${size}`] });
  }
  return mounts;
}

function userMount(m: ContainerMountConfig): OciMount {
  if (!path.isAbsolute(m.destination)) throw invalidArgument(`invalid mount config: mount path must be absolute: ${m.destination}`);
  if (m.type === 'tmpfs') {
    const extra = m.options ?? [];
    const base = ['nosuid', 'nodev', extra.includes('exec') ? 'exec' : 'noexec'];
    const options = [...base, ...extra.filter((o) => o !== 'exec' && o !== 'noexec' && o !== 'rw' && o !== 'ro'), m.readonly ? 'ro' : 'rw'];
    return { destination: m.destination, type: 'tmpfs', source: 'tmpfs', options };
  }
  const extra = m.options ?? [];
  const hasPropagation = extra.some((o) => /^r?(private|shared|slave)$/.test(o));
  return {
    destination: m.destination,
    type: 'bind',
    source: m.source,
    // moby's order: rbind, ro when read-only, then propagation (rprivate by default).
    options: ['rbind', ...(m.readonly ? ['ro'] : []), ...extra.filter((o) => o !== 'ro' && o !== 'rw'), ...(hasPropagation ? [] : ['rprivate'])],
  };
}

/** Docker sorts mounts so a parent is mounted before its children. */
const depth = (p: string) => path.normalize(p).split('/').filter(Boolean).length;

function buildMounts(cfg: ContainerRuntimeConfig): OciMount[] {
  const user = cfg.mounts.map(userMount);
  const etc: OciMount[] = [];
  const etcTargets: Array<[string | undefined, string]> = [
    [cfg.etcFiles?.resolvConf, '/etc/resolv.conf'],
    [cfg.etcFiles?.hostname, '/etc/hostname'],
    [cfg.etcFiles?.hosts, '/etc/hosts'],
  ];
  for (const [source, destination] of etcTargets) {
    if (!source || user.some((m) => m.destination === destination)) continue;
    etc.push({ destination, type: 'bind', source, options: ['rbind', ...(cfg.readonlyRootfs ? ['ro'] : []), 'rprivate'] });
  }
  if (cfg.init) {
    etc.push({ destination: INIT_PATH_IN_CONTAINER, type: 'bind', source: cfg.init, options: ['bind', 'ro'] });
  }
  const overridden = new Set(user.map((m) => path.normalize(m.destination)));
  const defaults = defaultMounts(cfg).filter((m) => !overridden.has(m.destination));
  if (cfg.readonlyRootfs) {
    // As moby does: system mounts other than /proc and /dev* follow the read-only rootfs.
    for (const m of defaults) {
      if (['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue'].includes(m.destination)) continue;
      if (!m.options!.includes('ro')) m.options = [...m.options!.filter((o) => o !== 'rw'), 'ro'];
    }
  }
  const extra = [...user, ...etc].sort((a, b) => depth(a.destination) - depth(b.destination));
  return [...defaults, ...extra];
}

function buildNamespaces(cfg: ContainerRuntimeConfig): OciNamespace[] {
  const ns: OciNamespace[] = [{ type: 'mount' }];
  const net = cfg.network;
  if (net.mode === 'path') ns.push({ type: 'network', path: net.netnsPath });
  else if (net.mode !== 'host') ns.push({ type: 'network' });
  if (cfg.utsMode !== 'host') ns.push({ type: 'uts' });
  if (cfg.pidMode !== 'host') ns.push({ type: 'pid' });
  if (cfg.ipcMode !== 'host') ns.push({ type: 'ipc' });
  return ns;
}

/** True when the kernel accounts swap (memory.memsw.* exists), as Docker checks before setting it. */
function swapAccountingEnabled(): boolean {
  return existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes') || existsSync('/sys/fs/cgroup/memory.swap.max');
}

export function buildResources(r: ResourceConfig, swapSupported = swapAccountingEnabled()): OciResources {
  const out: OciResources = {};
  if (r.memory || r.memoryReservation || r.memorySwap) {
    out.memory = {};
    if (r.memory) out.memory.limit = r.memory;
    if (r.memoryReservation) out.memory.reservation = r.memoryReservation;
    if (swapSupported && r.memory) {
      if (r.memorySwap === -1) out.memory.swap = -1;
      else if (r.memorySwap && r.memorySwap > 0) {
        if (r.memorySwap < r.memory) throw invalidArgument('Minimum memoryswap limit should be larger than memory limit, see usage');
        out.memory.swap = r.memorySwap;
      } else out.memory.swap = r.memory * 2;
    }
  }
  const cpu: NonNullable<OciResources['cpu']> = {};
  if (r.cpuShares) cpu.shares = r.cpuShares;
  if (r.nanoCpus) {
    if (r.cpuQuota || r.cpuPeriod) throw invalidArgument('Conflicting options: Nano CPUs and CPU Period cannot both be set');
    cpu.period = 100000;
    cpu.quota = Math.floor((r.nanoCpus * 100000) / 1e9);
  } else {
    if (r.cpuQuota) cpu.quota = r.cpuQuota;
    if (r.cpuPeriod) cpu.period = r.cpuPeriod;
  }
  if (r.cpusetCpus) cpu.cpus = r.cpusetCpus;
  if (r.cpusetMems) cpu.mems = r.cpusetMems;
  if (Object.keys(cpu).length) out.cpu = cpu;
  // No limit (0 or -1) is left out: a new cgroup has none, and crun 1.8 would write -1 to pids.max as a number the kernel refuses.
  if (r.pidsLimit !== undefined && r.pidsLimit > 0) out.pids = { limit: r.pidsLimit };
  if (r.blkioWeight) out.blockIO = { weight: r.blkioWeight };
  return out;
}

export const ULIMIT_NAMES: ReadonlySet<string> = new Set(['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack', 'as']);

function buildRlimits(cfg: ContainerRuntimeConfig): OciRlimit[] | undefined {
  if (!cfg.ulimits?.length) return undefined;
  return cfg.ulimits.map((u) => {
    if (!ULIMIT_NAMES.has(u.name)) throw invalidArgument(`invalid ulimit type: ${u.name}`);
    if (u.hard >= 0 && u.soft > u.hard) throw invalidArgument(`ulimit soft limit must be less than or equal to hard limit: ${u.soft} > ${u.hard}`);
    // dockerd hands the runtime uint64(value): -1 is "unlimited".
    const limit = (value: number) => (value < 0 ? RLIM_INFINITY : value);
    return { type: `RLIMIT_${u.name.toUpperCase()}`, soft: limit(u.soft), hard: limit(u.hard) };
  });
}

function buildSeccomp(cfg: ContainerRuntimeConfig, sec: SecurityOptions, caps: string[]): OciSeccomp | undefined {
  if (cfg.privileged || sec.seccomp === 'unconfined') return undefined;
  if (sec.seccomp === undefined || sec.seccomp === '' || sec.seccomp === 'builtin') return defaultSeccomp({ capabilities: caps });
  return toOciSeccomp(loadSeccompProfile(sec.seccomp), { capabilities: caps });
}

function buildDevices(cfg: ContainerRuntimeConfig): { devices: OciDevice[]; rules: OciDeviceCgroup[] } {
  if (cfg.privileged) return { devices: walkDevices('/dev'), rules: [{ allow: true, access: 'rwm' }] };
  const devices: OciDevice[] = [];
  const rules = defaultDeviceCgroupRules();
  for (const d of cfg.devices ?? []) {
    const mapped = deviceMapping(d.pathOnHost, d.pathInContainer || d.pathOnHost, d.permissions);
    devices.push(...mapped.devices);
    rules.push(...mapped.rules);
  }
  for (const r of cfg.deviceCgroupRules ?? []) rules.push(parseDeviceCgroupRule(r));
  return { devices, rules };
}

/** The OCI config.json for a container, with Docker's defaults. Pure apart from reading /dev for privileged containers. */
export function buildSpec(cfg: ContainerRuntimeConfig): OciSpec {
  const sec = parseSecurityOptions(cfg.securityOpt);
  const caps = effectiveCapabilities({ capAdd: cfg.capAdd, capDrop: cfg.capDrop, privileged: cfg.privileged });
  const { devices, rules } = buildDevices(cfg);
  const linux: OciLinux = {
    namespaces: buildNamespaces(cfg),
    devices,
    cgroupsPath: cfg.cgroupsPath,
    resources: { ...buildResources(cfg.resources), devices: rules },
  };
  if (cfg.sysctls && Object.keys(cfg.sysctls).length) linux.sysctl = { ...cfg.sysctls };
  const seccomp = buildSeccomp(cfg, sec, caps);
  if (seccomp) linux.seccomp = seccomp;
  if (!cfg.privileged && !sec.unmaskSystemPaths) {
    linux.maskedPaths = [...DEFAULT_MASKED_PATHS];
    linux.readonlyPaths = [...DEFAULT_READONLY_PATHS];
  }
  const args = cfg.init ? [INIT_PATH_IN_CONTAINER, '--', ...cfg.args] : [...cfg.args];
  if (args.length === 0) throw invalidArgument('no command specified');
  const spec: OciSpec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: cfg.tty,
      user: { uid: cfg.user.uid, gid: cfg.user.gid, additionalGids: [...cfg.user.additionalGids] },
      args,
      env: [...cfg.env],
      cwd: cfg.cwd || '/',
      capabilities: { bounding: [...caps], effective: [...caps], permitted: [...caps] },
      noNewPrivileges: sec.noNewPrivileges,
      oomScoreAdj: cfg.oomScoreAdj ?? 0,
    },
    root: { path: cfg.rootfsPath, readonly: cfg.readonlyRootfs },
    mounts: buildMounts(cfg),
    linux,
  };
  const rlimits = buildRlimits(cfg);
  if (rlimits) spec.process.rlimits = rlimits;
  // runc refuses a hostname without a private UTS namespace.
  if (cfg.utsMode !== 'host') {
    spec.hostname = cfg.hostname;
    if (cfg.domainname) spec.domainname = cfg.domainname;
  }
  if (cfg.annotations) spec.annotations = { ...cfg.annotations };
  return spec;
}
