import * as os from 'node:os';
import { promises as fs } from 'node:fs';
import { randomUUID } from 'node:crypto';
import type { ContainerService } from '../containers/container-service';

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

  constructor(
    private readonly deps: { containers: ContainerService; countImages: () => Promise<number>; paths: SystemPaths },
  ) {}

  version(): Record<string, unknown> {
    const details = { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Os: 'linux', Arch: goArch() };
    return {
      Platform: { Name: 'Berth' },
      Components: [
        { Name: 'Engine', Version: BERTH_VERSION, Details: { ...details, KernelVersion: os.release(), NodeVersion: process.version } },
        { Name: 'runc', Version: 'system', Details: { GitCommit: '' } },
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
    return {
      ID: this.daemonId,
      Containers: containers.length,
      ContainersRunning: running,
      ContainersPaused: paused,
      ContainersStopped: containers.length - running - paused,
      Images: await this.deps.countImages(),
      Driver: 'overlay2',
      DriverStatus: [['Backing Filesystem', 'extfs']],
      Plugins: { Volume: ['local'], Network: ['host', 'null'], Authorization: null, Log: ['local'] },
      MemoryLimit: true,
      SwapLimit: true,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: true,
      PidsLimit: true,
      OomKillDisable: true,
      IPv4Forwarding: true,
      Debug: false,
      NFd: await countOpenFds(),
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: 'local',
      CgroupDriver: 'cgroupfs',
      CgroupVersion: '1',
      NEventsListener: 0,
      KernelVersion: os.release(),
      OperatingSystem: await operatingSystem(),
      OSVersion: '',
      OSType: 'linux',
      Architecture: os.machine(),
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: { IndexConfigs: {}, InsecureRegistryCIDRs: ['127.0.0.0/8'], Mirrors: [] },
      NCPU: os.cpus().length,
      MemTotal: os.totalmem(),
      DockerRootDir: this.deps.paths.dataRoot,
      Name: os.hostname(),
      Labels: [],
      ExperimentalBuild: false,
      ServerVersion: BERTH_VERSION,
      Runtimes: { runc: { path: 'runc' } },
      DefaultRuntime: 'runc',
      LiveRestoreEnabled: true,
      Isolation: '',
      InitBinary: '',
      SecurityOptions: ['name=seccomp,profile=builtin', 'name=no-new-privileges'],
      Warnings: [],
    };
  }
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

async function countOpenFds(): Promise<number> {
  try {
    return (await fs.readdir('/proc/self/fd')).length;
  } catch {
    return 0;
  }
}
