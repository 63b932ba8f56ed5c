import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, readlinkSync } from 'node:fs';
import * as path from 'node:path';
import { Harness, makeHarness, newId, runtimeConfig, skipReason } from './fixture';
import { buildSpec } from '../../../src/runtime/spec';
import { RuncDriver } from '../../../src/runtime/driver';
import { RuncTaskRuntime } from '../../../src/runtime/task/runc-task';
import type { NetworkHook, Task, TaskStream } from '../../../src/runtime/task/types';
import { errorKind } from '../../../src/errors';

const skip = skipReason();

function collect(stream: TaskStream): () => string {
  const out: Buffer[] = [];
  stream.on('stdout', (b) => out.push(b));
  return () => Buffer.concat(out).toString();
}

describe('Task over runc and berth-monitor', { skip }, () => {
  let h: Harness;
  let tasks: RuncTaskRuntime;
  const prepared: string[] = [];
  const released: string[] = [];
  let netnsFor: Map<string, string>;
  const hook: NetworkHook = {
    prepare: async ({ id }) => {
      prepared.push(id);
      const netnsPath = netnsFor.get(id);
      return netnsPath ? { netnsPath } : {};
    },
    release: async (id) => void released.push(id),
  };

  before(async () => {
    h = await makeHarness();
    netnsFor = new Map();
    tasks = new RuncTaskRuntime(h.driver, hook);
  });
  after(async () => {
    await h.cleanup();
  });

  const create = async (id: string, args: string[], over: Parameters<typeof runtimeConfig>[2] = {}): Promise<Task> => {
    h.ids.push(id);
    const cfg = runtimeConfig(h, id, { args, ...over });
    const bundleDir = path.join(h.dir, `tb-${id.slice(0, 8)}`);
    return tasks.create({ id, bundleDir, spec: buildSpec(cfg), tty: false, openStdin: cfg.openStdin, log: { path: path.join(bundleDir, 'log') } });
  };

  test('create → attach → start → wait, logs through the runtime, exit file kept until delete', async () => {
    const id = newId();
    const task = await create(id, ['sh', '-c', 'echo hello; exit 4']);
    assert.deepEqual(prepared.slice(-1), [id], 'the network hook ran at create');
    const output = collect(await task.attach());
    const { pid } = await task.start();
    assert.ok(pid > 0);
    const status = await task.wait();
    assert.equal(status?.exitCode, 4);
    assert.equal(output(), 'hello\n');
    assert.deepEqual(await tasks.readExit(id), status);
    const lines: string[] = [];
    for await (const batch of tasks.logs(path.join(h.dir, `tb-${id.slice(0, 8)}`, 'log'))) lines.push(...batch.map((l) => l.line.toString()));
    assert.deepEqual(lines, ['hello\n']);
    await tasks.delete(id);
    assert.equal(await tasks.readExit(id), undefined);
    assert.deepEqual(released.slice(-1), [id]);
  });

  test('pause, stats, exec, kill on a running task; load re-adopts it', async () => {
    const id = newId();
    const task = await create(id, ['sh', '-c', 'head -c 4000000 /dev/zero > /tmp/f; sleep 1000'], { resources: { memory: 64 * 1024 * 1024, pidsLimit: 50 } });
    await task.start();
    const stats = await task.stats();
    assert.equal(stats.memory.limit, 64 * 1024 * 1024);
    assert.ok(stats.memory.usage > 0);
    assert.ok(stats.pids.current >= 1);
    assert.equal(stats.pids.limit, 50);
    assert.ok(stats.cpu.totalNs > 0);

    const exec = await task.exec(newId(), { ...buildSpec(runtimeConfig(h, id)).process!, args: ['sh', '-c', 'echo from-exec'] }, { tty: false, openStdin: false });
    const execOut = collect(await exec.attach());
    await exec.start();
    assert.equal((await exec.wait())?.exitCode, 0);
    assert.equal(execOut(), 'from-exec\n');
    await exec.delete();

    await task.pause();
    assert.equal((await h.driver.runc.state(id)).status, 'paused');
    await task.resume();

    // A second daemon would find the task again by id.
    const loaded = await tasks.load({ id, bundleDir: path.join(h.dir, `tb-${id.slice(0, 8)}`), tty: false });
    assert.ok('task' in loaded);
    await loaded.task.kill('SIGKILL');
    assert.equal((await loaded.task.wait())?.exitCode, 137);
    assert.equal((await task.wait())?.exitCode, 137);
    task.close();
    loaded.task.close();
    await tasks.delete(id);
    const gone = await tasks.load({ id, bundleDir: path.join(h.dir, `tb-${id.slice(0, 8)}`), tty: false });
    assert.deepEqual(gone, { exited: undefined });
  });

  test('the network hook hands a netns path into the spec: the task joins it', async () => {
    const first = newId();
    const a = await create(first, ['sleep', '1000'], { network: { mode: 'private' } });
    const { pid } = await a.start();
    const netns = `/proc/${pid}/ns/net`;
    const second = newId();
    netnsFor.set(second, netns);
    const b = await create(second, ['sh', '-c', 'readlink /proc/self/ns/net']);
    const out = collect(await b.attach());
    await b.start();
    assert.equal((await b.wait())?.exitCode, 0);
    assert.equal(out().trim(), readlinkSync(netns));
    const config = JSON.parse(await fs.readFile(path.join(h.dir, `tb-${second.slice(0, 8)}`, 'config.json'), 'utf8')) as { linux: { namespaces: Array<{ type: string; path?: string }> } };
    assert.deepEqual(config.linux.namespaces.filter((ns) => ns.type === 'network'), [{ type: 'network', path: netns }]);
    await a.kill('SIGKILL');
    await a.wait();
    a.close();
    b.close();
  });
});

describe('a hung runc cannot hold a caller forever', { skip }, () => {
  let dir: string;
  let driver: RuncDriver;
  before(async () => {
    dir = await fs.mkdtemp('/tmp/hung-runc-');
    // A runc that never answers (the failure injected: a wedged runtime).
    const fake = path.join(dir, 'runc');
    await fs.writeFile(fake, `#!/bin/sh\necho $$ >> ${dir}/pids\nexec sleep 1000\n`, { mode: 0o755 });
    driver = new RuncDriver({ runtimeRoot: path.join(dir, 'root'), execRoot: path.join(dir, 'x'), runcBinary: fake, runcTimeoutMs: 400 });
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const isAlive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  test('every call times out, and the hung runc is killed', async () => {
    const started = Date.now();
    await assert.rejects(driver.pause('c1'), (err: Error) => {
      assert.equal(errorKind(err), 'Unavailable');
      assert.match(err.message, /runc .*pause c1: timed out after 400 ms/);
      return true;
    });
    assert.ok(Date.now() - started < 5000);
    await assert.rejects(driver.kill('c1', 'SIGTERM'), /timed out after 400 ms/);
    const pids = (await fs.readFile(path.join(dir, 'pids'), 'utf8')).trim().split('\n').map(Number);
    assert.equal(pids.length, 2);
    await new Promise((r) => setTimeout(r, 100));
    for (const pid of pids) assert.equal(isAlive(pid), false, `runc ${pid} was killed`);
  });

  test('an AbortSignal ends a call at once', async () => {
    const controller = new AbortController();
    const call = driver.update('c1', {}, { signal: controller.signal, timeoutMs: 60_000 });
    setTimeout(() => controller.abort(new Error('container removed')), 100);
    const started = Date.now();
    await assert.rejects(call, /aborted: container removed/);
    assert.ok(Date.now() - started < 2000);
  });
});
