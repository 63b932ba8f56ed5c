import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { bootstrapBusybox, needsRoot, startTestDaemon, type TestDaemon } from '../helpers/test-daemon';
import { berth } from '../helpers/cli';
import { runCommand } from '../helpers/cli';

const skip = needsRoot('needs root (the daemon, setpriv)');

/** Runs a command as nobody (65534) with no supplementary groups. */
const asNobody = (...argv: string[]) => runCommand('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', ...argv]);

async function blobsUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await blobsUnder(full)));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

const modeOf = async (p: string) => (await fs.stat(p)).mode & 0o7777;

/** The image store is root's alone, as Docker's is: no local user reads a layer or a committed secret. */
describe('data root permissions', { skip }, () => {
  let daemon: TestDaemon;
  const run = (args: string[]) => berth(daemon.host, args);

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
    // The daemon's temp root is 0700 by mkdtemp; open it so only the data root's own modes protect it.
    await fs.chmod(daemon.root, 0o755);
  });
  after(async () => {
    await daemon?.stop();
  });

  it('stores are 0700/0710 and blobs 0600; nobody can list or read them', async () => {
    const secret = await run(['run', '--name', 'secretive', 'busybox', 'sh', '-c', 'echo s3cr3t-value > /secret']);
    assert.equal(secret.code, 0, secret.stderr);
    const committed = await run(['commit', 'secretive', 'secret:1']);
    assert.equal(committed.code, 0, committed.stderr);

    const d = daemon.dataRoot;
    assert.equal(await modeOf(d), 0o711);
    for (const [name, mode] of [['content', 0o700], ['images', 0o700], ['snapshots', 0o710], ['rootfs', 0o710], ['containers', 0o710]] as const) {
      assert.equal((await modeOf(path.join(d, name))).toString(8), mode.toString(8), `${name}/`);
    }
    const blobs = (await blobsUnder(path.join(d, 'content'))).filter((f) => f.includes('/blobs/'));
    assert.ok(blobs.length >= 3, 'the images have blobs');
    for (const blob of blobs) assert.equal(await modeOf(blob), 0o600, blob);

    for (const target of [blobs[0]!, path.join(d, 'content'), path.join(d, 'snapshots'), path.join(d, 'containers'), path.join(d, 'images')]) {
      const r = await asNobody('ls', target);
      assert.notEqual(r.code, 0, `nobody could list ${target}`);
      assert.match(r.stderr, /Permission denied/);
    }
    for (const blob of blobs) {
      const r = await asNobody('cat', blob);
      assert.notEqual(r.code, 0, `nobody read ${blob}`);
      assert.doesNotMatch(r.stdout, /s3cr3t-value/);
    }
  });

  it('containers still run as a non-root user inside, with their managed /etc files', async () => {
    const r = await run(['run', '--rm', '-u', '65534:65534', 'busybox', 'sh', '-c', 'cat /etc/hostname >/dev/null && ls / >/dev/null && id -u']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), '65534');
  });

  it('a store left open by an older berth is closed on the next start', async () => {
    const d = daemon.dataRoot;
    const blob = (await blobsUnder(path.join(d, 'content'))).filter((f) => f.includes('/blobs/'))[0]!;
    await daemon.crash();
    await fs.chmod(path.join(d, 'content'), 0o755);
    await fs.chmod(path.dirname(blob), 0o755);
    await fs.chmod(blob, 0o644);
    await fs.chmod(path.join(d, 'containers'), 0o755);
    assert.equal((await asNobody('cat', blob)).code, 0, 'the old layout was readable');
    await daemon.restart();
    assert.equal(await modeOf(path.join(d, 'content')), 0o700);
    assert.equal(await modeOf(path.join(d, 'containers')), 0o710);
    assert.equal(await modeOf(blob), 0o600);
    assert.notEqual((await asNobody('cat', blob)).code, 0);
    assert.match(await daemon.logs(), /closed the permissions of the data root/);
  });
});
