import { needsRoot } from '../../helpers/root';
import { promises as fs, existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { RuncDriver, TaskPaths } from '../../../src/runtime/driver';
import { buildSpec, ContainerRuntimeConfig, OciSpec } from '../../../src/runtime/spec';
import { MonitorConnection } from '../../../src/runtime/monitor/client';
import type { ExitStatus } from '../../../src/runtime/monitor/protocol';
import { monitorBinaryPath } from '../../../src/runtime/monitor/spawn-monitor';

/** Why the runtime integration tests cannot run here, or undefined when they can. */
export function skipReason(): string | undefined {
  const root = needsRoot('needs root');
  if (root) return root;
  try {
    execFileSync('runc', ['--version']);
  } catch {
    return 'runc not installed';
  }
  if (!existsSync('/bin/busybox')) return 'busybox-static not installed';
  if (!existsSync(monitorBinaryPath())) return 'berth-monitor not built (npm install)';
  return undefined;
}

/** A plain-directory rootfs with static busybox and its applet links, plus passwd/group. */
export async function makeBusyboxRootfs(dir: string): Promise<string> {
  const rootfs = path.join(dir, 'rootfs');
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root']) await fs.mkdir(path.join(rootfs, d), { recursive: true });
  await fs.copyFile('/bin/busybox', path.join(rootfs, 'bin', 'busybox'));
  await fs.chmod(path.join(rootfs, 'bin', 'busybox'), 0o755);
  const applets = execFileSync('/bin/busybox', ['--list']).toString().split('\n').filter((a) => a && a !== 'busybox');
  for (const applet of applets) await fs.symlink('busybox', path.join(rootfs, 'bin', applet));
  await fs.writeFile(path.join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n');
  await fs.writeFile(path.join(rootfs, 'etc', 'group'), 'root:x:0:\nalice:x:1000:\n');
  return rootfs;
}

export const newId = () => randomBytes(32).toString('hex');

export interface Harness {
  dir: string;
  rootfs: string;
  driver: RuncDriver;
  cleanup(): Promise<void>;
  ids: string[];
  /** cgroup parent unique to this harness, removed by cleanup. */
  cgroupParent: string;
}

/** The OCI runtimes installed here, each driven through the same tests: runc, and crun when it is there. */
export function installedRuntimes(): Array<'runc' | 'crun'> {
  const installed = (binary: string) => {
    try {
      execFileSync(binary, ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  return (['runc', 'crun'] as const).filter(installed);
}

export async function makeHarness(runtime: 'runc' | 'crun' = 'runc'): Promise<Harness> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rt-'));
  const rootfs = await makeBusyboxRootfs(dir);
  const driver = new RuncDriver({ runtimeRoot: path.join(dir, runtime), execRoot: path.join(dir, 'x'), runcBinary: runtime });
  const ids: string[] = [];
  const cgroupParent = `/${path.basename(dir)}`;
  return {
    dir,
    rootfs,
    driver,
    ids,
    cgroupParent,
    async cleanup() {
      for (const id of ids) await driver.delete(id).catch(() => undefined);
      await fs.rm(dir, { recursive: true, force: true });
      for (const hierarchy of await fs.readdir('/sys/fs/cgroup')) {
        await fs.rmdir(path.join('/sys/fs/cgroup', hierarchy, cgroupParent)).catch(() => undefined);
      }
    },
  };
}

export function runtimeConfig(h: Harness, id: string, over: Partial<ContainerRuntimeConfig> = {}): ContainerRuntimeConfig {
  return {
    id, rootfsPath: h.rootfs, args: ['true'], env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
    cwd: '/', user: { uid: 0, gid: 0, additionalGids: [] }, hostname: id.slice(0, 12), tty: false, openStdin: false,
    readonlyRootfs: false, privileged: false, capAdd: [], capDrop: [], securityOpt: [], mounts: [],
    network: { mode: 'none' }, ipcMode: 'private', pidMode: 'private', utsMode: 'private', resources: {},
    cgroupsPath: `${h.cgroupParent}/${id}`, ...over,
  };
}

export interface Created {
  id: string;
  paths: TaskPaths;
  conn: MonitorConnection;
  bundleDir: string;
  exitFile: string;
  logPath: string;
  output(): { stdout: string; stderr: string };
}

/** create + attach (before start, so no output is missed). */
export async function createContainer(h: Harness, cfg: ContainerRuntimeConfig, spec: OciSpec = buildSpec(cfg)): Promise<Created> {
  const bundleDir = path.join(h.dir, `b-${cfg.id.slice(0, 8)}`);
  const exitFile = path.join(bundleDir, 'exit.json');
  const logPath = path.join(bundleDir, 'log');
  await fs.mkdir(bundleDir, { recursive: true });
  h.ids.push(cfg.id);
  const paths = await h.driver.create({ id: cfg.id, bundleDir, spec, tty: cfg.tty, openStdin: cfg.openStdin, logPath, exitFile });
  const conn = await h.driver.attach(cfg.id);
  return { id: cfg.id, paths, conn, bundleDir, exitFile, logPath, output: collect(conn) };
}

export function collect(conn: MonitorConnection): () => { stdout: string; stderr: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  conn.on('stdout', (b) => out.push(b));
  conn.on('stderr', (b) => err.push(b));
  return () => ({ stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
}

/** Runs a container to completion and returns its output and exit status. */
export async function runToExit(h: Harness, cfg: ContainerRuntimeConfig): Promise<{ stdout: string; stderr: string; status: ExitStatus }> {
  const c = await createContainer(h, cfg);
  try {
    const exited = c.conn.waitExited();
    exited.catch(() => undefined); // a start failure is reported by start()
    await h.driver.start(c.id, c.paths, c.conn);
    const status = await exited;
    // Output frames precede EXITED on the same socket, so they are all in.
    return { ...c.output(), status };
  } finally {
    c.conn.close();
    await h.driver.delete(c.id);
  }
}
