import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DOCKER_CLIENTS, runCommand } from '../helpers/cli';
import { diffSnapshots, snapshotNetwork } from '../helpers/host-network';
import { dockerdBinary, privateDockerdSkipReason } from '../helpers/private-dockerd';
import { createPrivateNetns, PrivateNetns } from '../helpers/private-netns';
import { killProcessesUnder, unmountUnder } from '../helpers/processes';
import { REPO_ROOT } from '../helpers/test-daemon';

const HELPER = path.join(REPO_ROOT, 'dist', 'test', 'helpers', 'private-dockerd.js');

/**
 * The private dockerd of the tests and benchmarks must leave the host's network alone: a
 * dockerd started with `--bridge none` deletes `docker0`. Checked on a stand-in host (a
 * namespace of the test's own with a `docker0` bridge, as a host running Docker has), so
 * the real host is never at risk, even if the check fails.
 */
describe('private dockerd and the host network', { skip: privateDockerdSkipReason() ?? false }, () => {
  let host: PrivateNetns;
  const onHost = (file: string, args: string[]) => host.command(file, args);

  before(async () => {
    host = await createPrivateNetns();
    const c = onHost('ip', ['link', 'add', 'docker0', 'type', 'bridge']);
    const r = await runCommand(c.file, c.args);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await host?.close();
  });

  it('startPrivateDockerd runs dockerd in a namespace of its own and leaves docker0, routes and rules as they were', async () => {
    const before = await snapshotNetwork(onHost);
    assert.match(before['interfaces (ip -o link)'], /: docker0: /);
    // The helper as tests and benchmarks use it, called from a process on the stand-in host.
    const script = `
      const fs = require('fs');
      const { startPrivateDockerd } = require(${JSON.stringify(HELPER)});
      startPrivateDockerd().then(async (d) => {
        const own = fs.readlinkSync('/proc/self/ns/net');
        const its = fs.readlinkSync('/proc/' + d.pid + '/ns/net');
        await d.stop();
        process.stdout.write(JSON.stringify({ own, its }));
      }).catch((e) => { console.error(e); process.exit(1); });`;
    const c = onHost(process.execPath, ['-e', script]);
    const r = await runCommand(c.file, c.args, { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    const { own, its } = JSON.parse(r.stdout) as { own: string; its: string };
    assert.notEqual(its, own, 'dockerd should run in another network namespace');
    assert.deepEqual(diffSnapshots(before, await snapshotNetwork(onHost)), []);
  });

  it('(why) a dockerd with --bridge none on the same network deletes docker0', async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'pdn-'));
    try {
      // Independent of the test above (which may have failed by losing docker0).
      const ensure = onHost('sh', ['-c', 'ip link show docker0 >/dev/null 2>&1 || ip link add docker0 type bridge']);
      assert.equal((await runCommand(ensure.file, ensure.args)).code, 0);
      const before = await snapshotNetwork(onHost);
      const sock = path.join(root, 's.sock');
      const dockerd = [dockerdBinary()!, '--data-root', path.join(root, 'd'), '--exec-root', path.join(root, 'x'), '--pidfile', path.join(root, 'p'), '-H', `unix://${sock}`,
        '--bridge', 'none', '--iptables=false', '--ip-masq=false', '--containerd-namespace', path.basename(root), '--containerd-plugins-namespace', `${path.basename(root)}p`];
      // Start, wait until it answers, stop (dockerd removes docker0 while starting).
      const shell = `"$@" >${root}/log 2>&1 & pid=$!
        for i in $(seq 120); do DOCKER_CONFIG=/nonexistent ${DOCKER_CLIENTS[0]} -H unix://${sock} version >/dev/null 2>&1 && break; sleep 0.5; done
        kill $pid; wait $pid`;
      const c = onHost('sh', ['-c', shell, 'sh', ...dockerd]);
      await runCommand(c.file, c.args, { timeoutMs: 120_000 });
      const diff = diffSnapshots(before, await snapshotNetwork(onHost));
      assert.ok(diff.some((line) => /^ {2}- \d+: docker0: /.test(line)), `docker0 should be gone: ${diff.join('\n')}\n${await fs.readFile(path.join(root, 'log'), 'utf8').catch(() => '')}`);
    } finally {
      await killProcessesUnder(root);
      await unmountUnder(root);
      await fs.rm(root, { recursive: true, force: true });
    }
  });
});
