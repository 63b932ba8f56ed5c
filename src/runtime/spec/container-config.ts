/**
 * What the engine knows about a container that matters to its OCI spec. The engine
 * builds one from the container's Config + HostConfig (after resolving the user and
 * preparing the rootfs and /etc files); buildSpec turns it into config.json.
 */
export interface ContainerMountConfig {
  type: 'bind' | 'tmpfs' | 'volume';
  /** Host path for bind and volume (the volume's data dir); ignored for tmpfs. */
  source: string;
  destination: string;
  readonly: boolean;
  /** Extra mount options (tmpfs size=..., mode=..., bind propagation rprivate, ...). */
  options?: string[];
}

export type NamespaceMode = 'private' | 'host';

export type NetworkConfig =
  | { mode: 'none' }
  | { mode: 'host' }
  /** Own network namespace, loopback only (a network driver may populate it later). */
  | { mode: 'private' }
  | { mode: 'path'; netnsPath: string };

export interface ResourceConfig {
  /** Bytes. */
  memory?: number;
  /** Bytes of memory+swap; -1 unlimited; unset with memory set → 2×memory (Docker). */
  memorySwap?: number;
  memoryReservation?: number;
  cpuShares?: number;
  /** CPUs × 1e9 (docker --cpus). */
  nanoCpus?: number;
  cpuQuota?: number;
  cpuPeriod?: number;
  cpusetCpus?: string;
  cpusetMems?: string;
  pidsLimit?: number;
  blkioWeight?: number;
}

export interface UlimitConfig {
  /** Docker name: nofile, nproc, core, ... */
  name: string;
  soft: number;
  hard: number;
}

export interface ContainerRuntimeConfig {
  id: string;
  rootfsPath: string;
  args: string[];
  env: string[];
  cwd: string;
  user: { uid: number; gid: number; additionalGids: number[] };
  hostname: string;
  domainname?: string;
  tty: boolean;
  openStdin: boolean;
  readonlyRootfs: boolean;
  privileged: boolean;
  capAdd: string[];
  capDrop: string[];
  /** no-new-privileges[:true|=true], seccomp=unconfined, seccomp=<profile JSON or path>, apparmor=..., label=... */
  securityOpt: string[];
  mounts: ContainerMountConfig[];
  /** Host paths bind-mounted over /etc/hostname, /etc/hosts, /etc/resolv.conf. */
  etcFiles?: { hostname?: string; hosts?: string; resolvConf?: string };
  network: NetworkConfig;
  ipcMode: NamespaceMode;
  pidMode: NamespaceMode;
  utsMode: NamespaceMode;
  resources: ResourceConfig;
  /** cgroupfs path, e.g. "/berth/<id>" (absolute: relative to each hierarchy's root). */
  cgroupsPath: string;
  sysctls?: Record<string, string>;
  ulimits?: UlimitConfig[];
  /** Host path of an init (tini / docker-init) to run as pid 1 in front of args. */
  init?: string;
  oomScoreAdj?: number;
  /** /dev/shm size in bytes; Docker's default is 64 MiB. */
  shmSize?: number;
  /** Extra devices from --device (host path → container path). */
  devices?: Array<{ pathOnHost: string; pathInContainer: string; permissions: string }>;
  /** --device-cgroup-rule values, "c 1:3 rwm". */
  deviceCgroupRules?: string[];
  annotations?: Record<string, string>;
}
