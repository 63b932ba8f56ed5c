import { after, before, describe, it } from 'node:test';
import { DEFAULT_RUNTIME_NAME } from '../helpers/runtime';
import { readTaskStateFile } from '../../src/runtime/runc/task-state-file';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { bootstrapBusybox, CLI_MAIN, needsRoot, startTestDaemon, TestDaemon } from '../helpers/test-daemon';
import { berth } from '../helpers/cli';
import { waitFor } from '../helpers/wait';
import { ContainerStore } from '../../src/metadata/containers';

const exists = (file: string) => fs.access(file).then(() => true, () => false);

const skip = needsRoot('needs root (runc, overlay mounts)');

/** Containers outlive the daemon: berthd is SIGKILLed and started again on the same roots. */
describe('daemon restart: running containers are re-adopted', { skip }, () => {
  let daemon: TestDaemon;
  const run = (args: string[]) => berth(daemon.host, args);
  const inspect = async (name: string) =>
    (JSON.parse((await run(['inspect', name])).stdout) as Array<{ Id: string; State: { Status: string; Running: boolean; Pid: number; ExitCode: number } }>)[0]!;

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
  });
  after(async () => {
    await daemon?.stop();
  });

  it('keeps containers running across a crash, with logs, stop and exit codes', async () => {
    assert.equal((await run(['run', '-d', '--name', 'sleeper', 'busybox', 'sleep', '1000'])).code, 0);
    assert.equal((await run(['run', '-d', '--name', 'ticker', 'busybox', 'sh', '-c', 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done'])).code, 0);
    assert.equal((await run(['run', '-d', '--name', 'short', 'busybox', 'sh', '-c', 'sleep 1; exit 7'])).code, 0);
    assert.equal((await run(['run', '--name', 'done', 'busybox', 'true'])).code, 0);
    const sleeper = await inspect('sleeper');
    const ticker = await inspect('ticker');
    assert.equal(sleeper.State.Running, true);

    await daemon.crash();
    // `short` exits while no daemon runs.
    await new Promise((r) => setTimeout(r, 1500));
    await daemon.restart();

    const sleeperAfter = await inspect('sleeper');
    assert.equal(sleeperAfter.State.Status, 'running');
    assert.equal(sleeperAfter.State.Pid, sleeper.State.Pid, 'the same process, re-adopted');
    assert.equal((await inspect('ticker')).State.Pid, ticker.State.Pid);
    const ps = await run(['ps', '--format', '{{.Names}}']);
    assert.deepEqual(ps.stdout.trim().split('\n').sort(), ['sleeper', 'ticker']);

    const short = await inspect('short');
    assert.equal(short.State.Status, 'exited');
    assert.equal(short.State.ExitCode, 7, 'the exit code recorded by the monitor while the daemon was down');
    const mounted = await overlayMountsUnder(daemon.dataRoot);
    assert.equal(mounted.length, 2, `only the two running containers keep their root mounted: ${mounted.join(', ')}`);
    assert.ok(mounted.every((m) => m.includes(sleeper.Id) || m.includes(ticker.Id)), mounted.join(', '));

    // logs -f sees lines written after the restart.
    const linesBefore = (await run(['logs', 'ticker'])).stdout.trim().split('\n').length;
    const followed = await followLogs(daemon.host, 'ticker', linesBefore + 3);
    assert.ok(followed.split('\n').filter((l) => l.startsWith('tick ')).length >= linesBefore + 3, followed);

    const stop = await run(['stop', '-t', '1', 'sleeper']);
    assert.equal(stop.code, 0, stop.stderr);
    const stopped = await inspect('sleeper');
    assert.equal(stopped.State.Status, 'exited');
    assert.equal(stopped.State.ExitCode, 137, 'sleep ignores TERM as pid 1, so it was killed');
    const stopTicker = await run(['stop', '-t', '1', 'ticker']);
    assert.equal(stopTicker.code, 0, stopTicker.stderr);

    // Stopped containers keep no overlay mounted, after a second restart too.
    await daemon.crash();
    await daemon.restart();
    assert.deepEqual(await overlayMountsUnder(daemon.dataRoot), [], 'no container root left mounted');
    for (const name of ['sleeper', 'ticker', 'short', 'done']) assert.equal((await inspect(name)).State.Status, 'exited');
    assert.equal((await run(['start', 'sleeper'])).code, 0, 'a re-adopted container starts again');
    assert.equal((await inspect('sleeper')).State.Running, true);
  });

  it('removes --rm containers that are not running at start, as dockerd does (their records are not fsynced)', async () => {
    assert.equal((await run(['create', '--rm', '--name', 'rm-created', '-v', '/anon', 'busybox', 'true'])).code, 0);
    assert.equal((await run(['run', '-d', '--rm', '--name', 'rm-running', 'busybox', 'sleep', '1000'])).code, 0);
    assert.equal((await run(['create', '--name', 'plain-created', 'busybox', 'true'])).code, 0);
    const created = await inspect('rm-created');
    const volumes = (JSON.parse((await run(['inspect', 'rm-created'])).stdout) as Array<{ Mounts: Array<{ Name: string }> }>)[0]!.Mounts.map((m) => m.Name);
    assert.equal(volumes.length, 1);

    await daemon.crash();
    await daemon.restart();

    const names = (await run(['ps', '-a', '--format', '{{.Names}}'])).stdout.trim().split('\n');
    assert.ok(!names.includes('rm-created'), `rm-created is gone: ${names.join(', ')}`);
    assert.ok(names.includes('plain-created') && names.includes('rm-running'), names.join(', '));
    assert.equal((await inspect('rm-running')).State.Running, true, 'a running --rm container is re-adopted, not removed');
    const volumeNames = (await run(['volume', 'ls', '-q'])).stdout.trim().split('\n');
    assert.ok(!volumeNames.includes(volumes[0]!), 'its anonymous volume went with it');
    const snapshots = JSON.parse(await fs.readFile(`${daemon.dataRoot}/snapshots/metadata.json`, 'utf8')) as { snapshots: Record<string, unknown> };
    assert.ok(!(created.Id in snapshots.snapshots), 'its root file system went with it');
    // A --rm root's record lives in its own directory (volatile.json), not in metadata.json.
    const volatileNames = await Promise.all(
      (await fs.readdir(`${daemon.dataRoot}/snapshots`)).map((d) => fs.readFile(`${daemon.dataRoot}/snapshots/${d}/volatile.json`, 'utf8').then((t) => (JSON.parse(t) as { name: string }).name, () => undefined)),
    );
    assert.ok(!volatileNames.includes(created.Id), 'its root file system went with it (volatile record)');
    assert.ok(volatileNames.includes((await inspect('rm-running')).Id), 'the running --rm container keeps its root');

    // Stopped by the user, a --rm container goes as always; the name is free again.
    assert.equal((await run(['stop', '-t', '1', 'rm-running'])).code, 0);
    assert.equal((await run(['run', '--rm', '--name', 'rm-created', 'busybox', 'true'])).code, 0);
    await run(['rm', '-f', 'plain-created']);
  });

  it('deletes at start the task state of a container whose record a removal deleted before a crash', async () => {
    // The crash window: a removal answers once the record is gone and deletes the task (runc
    // state, cgroups, task dir) just after. Made here by deleting the record as the removal
    // does, with the daemon down and the container's process gone.
    assert.equal((await run(['run', '-d', '--name', 'orphaned', 'busybox', 'sleep', '1000'])).code, 0);
    const { Id: id, State } = await inspect('orphaned');
    const stateDir = path.join(daemon.execRoot, DEFAULT_RUNTIME_NAME, id);
    const taskDir = path.join(daemon.execRoot, id.slice(0, 12));
    const cgroups = Object.values((await readTaskStateFile(stateDir))?.cgroupPaths ?? {});
    assert.ok(cgroups.length > 0 && (await Promise.all(cgroups.map(exists))).every(Boolean), `its cgroups exist: ${cgroups.join(', ')}`);
    assert.ok(await exists(taskDir));

    await daemon.crash();
    process.kill(State.Pid, 'SIGKILL');
    await waitFor(async () => !(await exists(`/proc/${State.Pid}`)), 10_000, 'the container process to be gone');
    const store = new ContainerStore(path.join(daemon.dataRoot, 'containers'));
    await store.init();
    await store.delete(id);
    await store.close();
    await daemon.restart();

    assert.ok(!(await exists(stateDir)), 'runtime state dir removed');
    assert.ok(!(await exists(taskDir)), 'task dir removed');
    for (const dir of cgroups) assert.ok(!(await exists(dir)), `cgroup ${dir} removed`);
    assert.match(await daemon.logs(), /removed the task state of a container removed before a crash/);
    assert.ok(!(await run(['ps', '-a', '--format', '{{.Names}}'])).stdout.includes('orphaned'));
  });

  it('keeps each container monitor small (VmRSS < 2.5 MB)', async () => {
    assert.equal((await run(['run', '-d', '--name', 'measured', 'busybox', 'sleep', '1000'])).code, 0);
    const { Id } = await inspect('measured');
    const monitor = await monitorOf(Id);
    assert.ok(monitor, 'a berth-monitor process serves the container');
    const status = await fs.readFile(`/proc/${monitor}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]);
    assert.ok(rssKb < 2.5 * 1024, `berth-monitor VmRSS is ${rssKb} kB`);
    await run(['rm', '-f', 'measured']);
  });
});

/** Runs `berth logs -f` until `lines` lines arrived, then ends it. */
function followLogs(host: string, name: string, lines: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(CLI_MAIN, ['logs', '-f', name], { env: { ...process.env, BERTH_HOST: host } });
    let out = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`logs -f saw only: ${JSON.stringify(out)}`));
    }, 15_000);
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.split('\n').length > lines) {
        clearTimeout(timer);
        child.kill();
        resolve(out);
      }
    });
  });
}

async function overlayMountsUnder(dir: string): Promise<string[]> {
  const mountinfo = await fs.readFile('/proc/self/mountinfo', 'utf8');
  return mountinfo
    .split('\n')
    .map((line) => line.split(' '))
    .filter((fields) => fields[4]?.startsWith(dir + '/') && fields[fields.indexOf('-') + 1] === 'overlay')
    .map((fields) => fields[4]!);
}

/** The pid of the berth-monitor whose command line names the container. */
async function monitorOf(id: string): Promise<number | undefined> {
  for (const pid of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const argv = (await fs.readFile(`/proc/${pid}/cmdline`).catch(() => Buffer.alloc(0))).toString().split('\0');
    if (argv[0]?.endsWith('berth-monitor') && argv.some((a) => a.includes(id))) return Number(pid);
  }
  return undefined;
}
