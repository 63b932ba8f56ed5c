import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readTaskStateFile } from './task-state-file';
import { runtimeFlavor } from './runtime-flavor';

async function stateDir(files: Record<string, unknown>): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'task-state-'));
  for (const [name, content] of Object.entries(files)) await fs.writeFile(path.join(dir, name), JSON.stringify(content));
  return dir;
}

test('runc\'s state.json: init, cgroups, and the cases a plain cleanup must leave to runc', async () => {
  const dir = await stateDir({
    'state.json': {
      init_process_pid: 42,
      init_process_start: 1234,
      cgroup_paths: { memory: '/sys/fs/cgroup/memory/berth/x', freezer: '/sys/fs/cgroup/freezer/berth/x' },
      config: { namespaces: [{ type: 'NEWNS' }, { type: 'NEWPID' }], Hooks: { poststop: [] } },
    },
  });
  try {
    assert.deepEqual(await readTaskStateFile(dir), {
      initPid: 42,
      initStart: 1234,
      cgroupPaths: { memory: '/sys/fs/cgroup/memory/berth/x', freezer: '/sys/fs/cgroup/freezer/berth/x' },
      privatePidNamespace: true,
      hasHooks: false,
      hasIntelRdt: false,
    });
    await fs.writeFile(path.join(dir, 'state.json'), JSON.stringify({ config: { namespaces: [{ type: 'NEWPID', path: '/proc/1/ns/pid' }], Hooks: { poststop: [{ path: '/x' }] } }, intel_rdt_path: '/sys/fs/resctrl/x' }));
    const joined = await readTaskStateFile(dir);
    assert.equal(joined?.privatePidNamespace, false);
    assert.equal(joined?.hasHooks, true);
    assert.equal(joined?.hasIntelRdt, true);
  } finally {
    await fs.rm(dir, { recursive: true });
  }
});

test('crun\'s status and config copy: init, a cgroup dir in every mounted hierarchy, pid namespace and hooks', async () => {
  const dir = await stateDir({
    status: { pid: 7, 'process-start-time': 99, 'cgroup-path': '/berth/abc', bundle: '/b' },
    'config.json': { linux: { namespaces: [{ type: 'mount' }, { type: 'pid' }] }, hooks: { poststop: [] } },
  });
  try {
    const state = await readTaskStateFile(dir);
    assert.equal(state?.initPid, 7);
    assert.equal(state?.initStart, 99);
    assert.equal(state?.privatePidNamespace, true);
    assert.equal(state?.hasHooks, false);
    assert.equal(state?.hasIntelRdt, false);
    const hierarchies = await fs.readFile('/sys/fs/cgroup/cgroup.controllers').then(
      () => [''],
      async () => {
        const names = await fs.readdir('/sys/fs/cgroup');
        const dirs = await Promise.all(names.map((n) => fs.stat(path.join('/sys/fs/cgroup', n)).then((s) => s.isDirectory(), () => false)));
        return names.filter((_, i) => dirs[i]);
      },
    );
    assert.deepEqual(state?.cgroupPaths, Object.fromEntries(hierarchies.map((h) => [h, path.join('/sys/fs/cgroup', h, '/berth/abc')])));

    await fs.writeFile(path.join(dir, 'config.json'), JSON.stringify({ linux: { namespaces: [{ type: 'pid', path: '/proc/1/ns/pid' }] }, hooks: { poststop: [{ path: '/x' }] } }));
    const joined = await readTaskStateFile(dir);
    assert.equal(joined?.privatePidNamespace, false);
    assert.equal(joined?.hasHooks, true);
    // Without its config copy nothing is known about the namespaces: not the plain case.
    await fs.rm(path.join(dir, 'config.json'));
    assert.equal((await readTaskStateFile(dir))?.privatePidNamespace, false);
  } finally {
    await fs.rm(dir, { recursive: true });
  }
});

test('no state, or state that is not JSON: undefined', async () => {
  const dir = await stateDir({});
  try {
    assert.equal(await readTaskStateFile(dir), undefined);
    assert.equal(await readTaskStateFile(path.join(dir, 'missing')), undefined);
    await fs.writeFile(path.join(dir, 'status'), '{"pid": 1');
    assert.equal(await readTaskStateFile(dir), undefined);
  } finally {
    await fs.rm(dir, { recursive: true });
  }
});

test('a runtime\'s flavor is told by its binary\'s name', () => {
  assert.equal(runtimeFlavor('crun'), 'crun');
  assert.equal(runtimeFlavor('/usr/local/bin/crun-1.20'), 'crun');
  assert.equal(runtimeFlavor('runc'), 'runc');
  assert.equal(runtimeFlavor('/tmp/x/hung-runc/runc'), 'runc');
  assert.equal(runtimeFlavor('/opt/bin/my-runtime'), 'runc');
});
