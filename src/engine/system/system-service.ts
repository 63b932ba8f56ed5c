import { runtimeFlavor } from '../../runtime/runc/runtime-flavor';
import * as os from 'node:os';
import type { RegistrySettings } from '../../registry/client/types';
import { registryServiceConfig } from './registry-config';
import { promises as fs } from 'node:fs';
import { randomUUID } from 'node:crypto';
import type { ContainerService } from '../containers/container-service';
import { DEFAULT_LOG_DRIVER, LOG_DRIVERS } from '../containers/log-config';
import { readSysInfo, type SysInfo } from '../../runtime/cgroups/sysinfo';
import { appArmorEnabled, backingFilesystem, kernelMemoryTcp, lookPath, maskProxyCredentials, runcCommit, seccompAvailable, supportsDType, sysctlEnabled } from './host-facts';

export const BERTH_VERSION = '0.1.0';
export const API_VERSION = '1.45';
export const MIN_API_VERSION = '1.24';

export interface SystemPaths {
  dataRoot: string;
  execRoot: string;
}

/** /version and /info: what this daemon is and what it holds. */
export class SystemService {
  private readonly daemonId = randomUUID();
  private readonly sys: SysInfo = readSysInfo();
  /** Checked once, on the first /info: it writes a probe file. */
  private dType: Promise<boolean> | undefined;
  /** Read once: `runc --version` does not change under a running daemon. */
  private runcCommit: Promise<string> | undefined;

  constructor(
    private readonly deps: {
      containers: ContainerService;
      countImages: () => Promise<number>;
      /** Mirrors and insecure registries, for RegistryConfig. */
      registry?: RegistrySettings;
      paths: SystemPaths;
      /** Open event streams. */
      eventListeners?: () => number;
      /** The daemon logs at debug level. */
      debug?: boolean;
      /** The runtime berthd runs (--runtime-path, else crun or runc on PATH). */
      runtimePath?: string;
    },
  ) {}

  /** The runtime's name as Docker lists runtimes: runc or crun. */
  private runtimeName(): string {
    return runtimeFlavor(this.deps.runtimePath ?? 'runc');
  }

  version(): Record<string, unknown> {
    const details = { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Os: 'linux', Arch: goArch() };
    return {
      Platform: { Name: 'Berth' },
      Components: [
        { Name: 'Engine', Version: BERTH_VERSION, Details: { ...details, KernelVersion: os.release(), NodeVersion: process.version } },
        { Name: this.runtimeName(), Version: 'system', Details: { GitCommit: '' } },
      ],
      Version: BERTH_VERSION,
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: '',
      GoVersion: `node ${process.version}`,
      Os: 'linux',
      Arch: goArch(),
      KernelVersion: os.release(),
      BuildTime: '',
    };
  }

  async info(): Promise<Record<string, unknown>> {
    const containers = this.deps.containers.list();
    const count = (status: string) => containers.filter((c) => c.State.Status === status).length;
    const running = count('running');
    const paused = count('paused');
    const sys = this.sys;
    this.dType ??= supportsDType(this.deps.paths.dataRoot).catch(() => false);
    const runcPath = this.deps.runtimePath?.includes('/') ? this.deps.runtimePath : await lookPath(this.deps.runtimePath ?? 'runc');
    this.runcCommit ??= runcCommit(runcPath);
    const [backingFs, dType, seccomp, appArmor, ipv4Forwarding, bridgeNfIptables, bridgeNfIp6tables, kmemTcp, runcCommitId] = await Promise.all([
      backingFilesystem(this.deps.paths.dataRoot),
      this.dType,
      seccompAvailable(),
      appArmorEnabled(),
      sysctlEnabled('net.ipv4.ip_forward'),
      sysctlEnabled('net.bridge.bridge-nf-call-iptables'),
      sysctlEnabled('net.bridge.bridge-nf-call-ip6tables'),
      kernelMemoryTcp(sys.cgroupVersion),
      this.runcCommit,
    ]);
    const warnings = infoWarnings(sys, { seccomp, appArmor });
    const securityOptions = seccomp ? ['name=seccomp,profile=builtin'] : [];
    if (sys.cgroupVersion === '2') securityOptions.push('name=cgroupns');
    return {
      ID: this.daemonId,
      Containers: containers.length,
      ContainersRunning: running,
      ContainersPaused: paused,
      ContainersStopped: containers.length - running - paused,
      Images: await this.deps.countImages(),
      Driver: 'overlay2',
      DriverStatus: [
        ['Backing Filesystem', backingFs],
        ['Supports d_type', String(dType)],
        ['Using metacopy', 'false'],
        ['Native Overlay Diff', 'true'],
        ['userxattr', 'false'],
      ],
      Plugins: { Volume: ['local'], Network: ['host', 'null'], Authorization: null, Log: [...LOG_DRIVERS] },
      MemoryLimit: sys.memoryLimit,
      SwapLimit: sys.swapLimit,
      KernelMemory: sys.kernelMemory,
      KernelMemoryTCP: kmemTcp,
      CpuCfsPeriod: sys.cpuCfs,
      CpuCfsQuota: sys.cpuCfs,
      CPUShares: sys.cpuShares,
      CPUSet: sys.cpuset,
      PidsLimit: sys.pidsLimit,
      // berth does not apply OomKillDisable (create warns), whatever the kernel offers.
      OomKillDisable: false,
      IPv4Forwarding: ipv4Forwarding,
      BridgeNfIptables: bridgeNfIptables,
      BridgeNfIp6tables: bridgeNfIp6tables,
      Debug: this.deps.debug ?? false,
      NFd: await countOpenFds(),
      // Node has no goroutines: the async resources (sockets, timers, fs requests) the daemon holds.
      NGoroutines: process.getActiveResourcesInfo().length,
      SystemTime: new Date().toISOString(),
      LoggingDriver: DEFAULT_LOG_DRIVER,
      CgroupDriver: sys.cgroupDriver,
      CgroupVersion: sys.cgroupVersion,
      NEventsListener: this.deps.eventListeners?.() ?? 0,
      KernelVersion: os.release(),
      OperatingSystem: await operatingSystem(),
      OSVersion: await osVersion(),
      OSType: 'linux',
      Architecture: os.machine(),
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: registryServiceConfig(this.deps.registry ?? { mirrors: [], insecureRegistries: [] }),
      NCPU: sys.ncpu,
      MemTotal: os.totalmem(),
      DockerRootDir: this.deps.paths.dataRoot,
      Name: os.hostname(),
      Labels: [],
      ExperimentalBuild: false,
      ServerVersion: BERTH_VERSION,
      Runtimes: { [this.runtimeName()]: { path: runcPath } },
      DefaultRuntime: this.runtimeName(),
      LiveRestoreEnabled: true,
      // berth runs no containerd; the runtime's commit comes from `<runtime> --version`, as dockerd reads runc's.
      ContainerdCommit: { ID: '', Expected: '' },
      RuncCommit: { ID: runcCommitId, Expected: runcCommitId },
      InitCommit: { ID: '', Expected: '' },
      GenericResources: null,
      HttpProxy: maskProxyCredentials(process.env.HTTP_PROXY ?? process.env.http_proxy),
      HttpsProxy: maskProxyCredentials(process.env.HTTPS_PROXY ?? process.env.https_proxy),
      NoProxy: process.env.NO_PROXY ?? process.env.no_proxy ?? '',
      // What a dockerd outside a swarm reports; berth has no swarm mode (routes/missing.ts).
      Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
      Isolation: '',
      InitBinary: '',
      SecurityOptions: securityOptions,
      // Forwarding and bridge-nf matter to bridge networking, which berth does not have yet: no warning.
      Warnings: warnings.length > 0 ? warnings : null,
    };
  }
}

/** The warnings `docker info` prints, as dockerd words them, for what this host lacks. */
function infoWarnings(
  sys: SysInfo,
  host: { seccomp: boolean; appArmor: boolean },
): string[] {
  const warnings: string[] = [];
  if (!sys.memoryLimit) warnings.push('WARNING: No memory limit support');
  if (!sys.swapLimit) warnings.push('WARNING: No swap limit support');
  if (!sys.cpuCfs) warnings.push('WARNING: No cpu cfs quota support', 'WARNING: No cpu cfs period support');
  if (!sys.cpuShares) warnings.push('WARNING: No cpu shares support');
  if (!sys.cpuset) warnings.push('WARNING: No cpuset support');
  if (!sys.pidsLimit) warnings.push('WARNING: No pids limit support');
  if (!host.seccomp) warnings.push('WARNING: seccomp is not available on this kernel: containers run without a seccomp filter');
  if (host.appArmor) warnings.push('WARNING: AppArmor is enabled on the host, but berth does not apply an AppArmor profile to containers');
  return warnings;
}

function goArch(): string {
  const arch = os.arch();
  return arch === 'x64' ? 'amd64' : arch === 'ia32' ? '386' : arch;
}

async function operatingSystem(): Promise<string> {
  try {
    const text = await fs.readFile('/etc/os-release', 'utf8');
    const match = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text);
    return match?.[1] ?? 'Linux';
  } catch {
    return 'Linux';
  }
}

async function osVersion(): Promise<string> {
  try {
    return /^VERSION_ID="?([^"\n]*)"?/m.exec(await fs.readFile('/etc/os-release', 'utf8'))?.[1] ?? '';
  } catch {
    return '';
  }
}

async function countOpenFds(): Promise<number> {
  try {
    return (await fs.readdir('/proc/self/fd')).length;
  } catch {
    return 0;
  }
}
