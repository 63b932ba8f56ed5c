import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { bootstrapBusybox, needsRoot, startTestDaemon, TestDaemon } from '../helpers/test-daemon';
import { berth, runCommand } from '../helpers/cli';
import { waitFor } from '../helpers/wait';

const skip = needsRoot('needs root (runc, overlay mounts)');

/** The berth CLI end to end against its own daemon (never the default /run/berth socket). */
describe('the berth CLI against berthd', { skip }, () => {
  let daemon: TestDaemon;
  let tmp: string;
  const run = (args: string[], input?: string | Buffer) => berth(daemon.host, args, { input });
  const ok = async (args: string[], input?: string | Buffer) => {
    const r = await run(args, input);
    assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}`);
    return r;
  };

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
    tmp = await fs.mkdtemp(path.join(daemon.root, 'cli-'));
  });
  after(async () => {
    await daemon?.stop();
  });

  it('run --rm prints the output and leaves nothing', async () => {
    const r = await ok(['run', '--rm', 'busybox', 'echo', 'hello']);
    assert.equal(r.stdout, 'hello\n');
    assert.equal((await ok(['ps', '-aq'])).stdout, '');
    const failed = await run(['run', '--rm', 'busybox', 'sh', '-c', 'exit 6']);
    assert.equal(failed.code, 6);
  });

  it('run -d, ps with -a, -q, --filter and --format', async () => {
    const id = (await ok(['run', '-d', '--name', 'up', 'busybox', 'sleep', '1000'])).stdout.trim();
    assert.match(id, /^[a-f0-9]{64}$/);
    assert.equal((await run(['run', '--name', 'down', 'busybox', 'sh', '-c', 'exit 2'])).code, 2);
    const downId = (await ok(['inspect', '-f', '{{.Id}}', 'down'])).stdout.trim();

    assert.match((await ok(['ps'])).stdout, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/m);
    assert.equal((await ok(['ps', '-q'])).stdout, `${id.slice(0, 12)}\n`);
    assert.deepEqual((await ok(['ps', '-aq'])).stdout.trim().split('\n').sort(), [id.slice(0, 12), downId.slice(0, 12)].sort());
    assert.equal((await ok(['ps', '-a', '--filter', 'status=exited', '--format', '{{.Names}}'])).stdout, 'down\n');
    assert.equal((await ok(['ps', '--format', '{{.ID}} {{.Names}}'])).stdout, `${id.slice(0, 12)} up\n`);
    assert.match((await ok(['ps', '-a', '--filter', 'name=down'])).stdout, /Exited \(2\)/);
    assert.equal((await ok(['inspect', '-f', '{{.State.Status}}', 'up'])).stdout, 'running\n');
    assert.equal((await ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'down'])).stdout, 'exited 2\n');
    await ok(['rm', '-f', 'up', 'down']);
  });

  it('logs with --tail and -t; exec', async () => {
    await ok(['run', '-d', '--name', 'talker', 'busybox', 'sh', '-c', 'for i in 1 2 3 4 5; do echo line$i; done; sleep 1000']);
    await waitFor(async () => (await run(['logs', 'talker'])).stdout.includes('line5'));
    assert.equal((await ok(['logs', '--tail', '2', 'talker'])).stdout, 'line4\nline5\n');
    const stamped = (await ok(['logs', '-t', '--tail', '1', 'talker'])).stdout;
    assert.match(stamped, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z line5\n$/);
    const exec = await ok(['exec', 'talker', 'sh', '-c', 'echo $((6*7)); echo $$']);
    assert.match(exec.stdout, /^42\n(\d+)\n$/);
    assert.notEqual(exec.stdout.split('\n')[1], '1', 'the exec is not pid 1');
    const failing = await run(['exec', 'talker', 'sh', '-c', 'exit 11']);
    assert.equal(failing.code, 11);
    const piped = await ok(['exec', '-i', 'talker', 'wc', '-c'], 'abcdef');
    assert.equal(piped.stdout.trim(), '6');
    await ok(['rm', '-f', 'talker']);
  });

  it('images, tag, rmi (refused while a container uses the image unless -f), history', async () => {
    const images = (await ok(['images'])).stdout;
    assert.match(images, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/m);
    assert.match(images, /^busybox\s+latest\s+[a-f0-9]{12}\s/m);
    await ok(['tag', 'busybox', 'mine/box:2']);
    assert.match((await ok(['images', '--format', '{{.Repository}}:{{.Tag}}'])).stdout, /^mine\/box:2$/m);
    await ok(['create', '--name', 'user-of-image', 'mine/box:2', 'true']);
    // Untagging one of two names is fine; deleting the image by id while a container uses it is not.
    const imageId = (await ok(['image', 'inspect', '-f', '{{.Id}}', 'busybox'])).stdout.trim();
    const refused = await run(['rmi', imageId]);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /conflict: unable to delete .* \(must be forced\)|image is being used by stopped container/);
    assert.equal((await ok(['rmi', 'mine/box:2'])).stdout, 'Untagged: mine/box:2\n');
    const history = (await ok(['history', 'busybox'])).stdout;
    assert.match(history, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/m);
    assert.equal(history.trim().split('\n').length >= 2, true);
    await ok(['rm', 'user-of-image']);
  });

  it('rmi -f removes an image a stopped container uses', async () => {
    await ok(['tag', 'busybox', 'doomed:1']);
    await ok(['commit', '-c', 'ENV DOOMED=1', (await ok(['create', 'doomed:1', 'true'])).stdout.trim(), 'doomed:2']);
    const user = (await ok(['create', '--name', 'doomed-user', 'doomed:2', 'true'])).stdout.trim();
    const refused = await run(['rmi', 'doomed:2']);
    assert.notEqual(refused.code, 0, 'the only name of an image in use');
    assert.match(refused.stderr, /conflict: unable to remove repository reference "doomed:2" \(must force\) - container [a-f0-9]{12} is using its referenced image [a-f0-9]{12}/);
    const forced = await ok(['rmi', '-f', 'doomed:2']);
    assert.match(forced.stdout, /Untagged: doomed:2/);
    assert.equal((await ok(['inspect', '-f', '{{.State.Status}}', user])).stdout, 'created\n', 'the container is kept');
    await ok(['container', 'prune', '-f']);
    await ok(['rmi', 'doomed:1']);
  });

  it('export | import - then run it', async () => {
    await ok(['run', '--name', 'exported', 'busybox', 'sh', '-c', 'echo inside > /marker']);
    const tar = (await ok(['export', 'exported'])).stdoutBytes;
    const imported = await ok(['import', '-', 'imported:1'], tar);
    assert.match(imported.stdout.trim(), /^sha256:[a-f0-9]{64}$/);
    assert.equal((await ok(['run', '--rm', 'imported:1', 'cat', '/marker'])).stdout, 'inside\n');
    await ok(['rm', 'exported']);
    await ok(['rmi', 'imported:1']);
  });

  it('save -o and load -i', async () => {
    await ok(['tag', 'busybox', 'saved:1']);
    const file = path.join(tmp, 'saved.tar');
    await ok(['save', '-o', file, 'saved:1']);
    assert.ok((await fs.stat(file)).size > 100_000);
    await ok(['rmi', 'saved:1']);
    const loaded = await ok(['load', '-i', file]);
    assert.match(loaded.stdout, /Loaded image: saved:1/);
    assert.equal((await ok(['run', '--rm', 'saved:1', 'echo', 'loaded'])).stdout, 'loaded\n');
    await ok(['rmi', 'saved:1']);
  });

  it('commit -c, cp both ways', async () => {
    await fs.writeFile(path.join(tmp, 'in.txt'), 'from host\n');
    await fs.mkdir(path.join(tmp, 'dir/sub'), { recursive: true });
    await fs.writeFile(path.join(tmp, 'dir/sub/deep.txt'), 'deep\n');
    await ok(['run', '-d', '--name', 'box', 'busybox', 'sleep', '1000']);
    await ok(['cp', path.join(tmp, 'in.txt'), 'box:/tmp/in.txt']);
    await ok(['cp', path.join(tmp, 'dir'), 'box:/tmp/']);
    assert.equal((await ok(['exec', 'box', 'cat', '/tmp/in.txt', '/tmp/dir/sub/deep.txt'])).stdout, 'from host\ndeep\n');
    await ok(['exec', 'box', 'sh', '-c', 'mkdir -p /out/a && echo result > /out/a/r.txt']);
    await ok(['cp', 'box:/out', path.join(tmp, 'copied')]);
    assert.equal(await fs.readFile(path.join(tmp, 'copied/a/r.txt'), 'utf8'), 'result\n');
    const toStdout = await ok(['cp', 'box:/out/a/r.txt', '-']);
    assert.match(toStdout.stdout, /result/, 'a tar stream on stdout');

    await ok(['commit', '-c', 'ENV X=1', 'box', 'committed:1']);
    assert.equal((await ok(['run', '--rm', 'committed:1', 'sh', '-c', 'echo $X; cat /tmp/in.txt'])).stdout, '1\nfrom host\n');
    assert.match((await ok(['image', 'inspect', '-f', '{{json .Config.Env}}', 'committed:1'])).stdout, /"X=1"/);
    await ok(['rm', '-f', 'box']);
    await ok(['rmi', 'committed:1']);
  });

  it('system df; image prune -a and system prune -a free disk', async () => {
    const df = (await ok(['system', 'df'])).stdout;
    assert.match(df, /^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE$/m);
    assert.match(df, /^Images\s+1\s+0\s/m);
    assert.match(df, /^Containers\s+0\s/m);

    // A second, unused image with a large layer of its own.
    await ok(['run', '--name', 'big', 'busybox', 'dd', 'if=/dev/urandom', 'of=/big', 'bs=1M', 'count=8']);
    await ok(['commit', 'big', 'big:1']);
    await ok(['rm', 'big']);
    const beforeImagePrune = await diskUsageKb(daemon.dataRoot);
    const pruned = await ok(['image', 'prune', '-a', '-f']);
    assert.match(pruned.stdout, /Total reclaimed space: [1-9]/);
    const afterImagePrune = await diskUsageKb(daemon.dataRoot);
    // busybox is unused as well, so it goes too: together well over 8 MB.
    assert.ok(beforeImagePrune - afterImagePrune > 8 * 1024, `image prune freed ${beforeImagePrune - afterImagePrune} kB`);
    assert.equal((await ok(['images', '-q'])).stdout, '');

    await bootstrapBusybox(daemon);
    await ok(['run', '--name', 'stopped-big', 'busybox', 'dd', 'if=/dev/urandom', 'of=/big', 'bs=1M', 'count=8']);
    const beforeSystemPrune = await diskUsageKb(daemon.dataRoot);
    const systemPruned = await ok(['system', 'prune', '-a', '-f']);
    assert.match(systemPruned.stdout, /Deleted Containers:/);
    const afterSystemPrune = await diskUsageKb(daemon.dataRoot);
    assert.ok(beforeSystemPrune - afterSystemPrune > 8 * 1024, `system prune freed ${beforeSystemPrune - afterSystemPrune} kB`);
    assert.equal((await ok(['ps', '-aq'])).stdout, '');
    assert.equal((await ok(['images', '-q'])).stdout, '');
    await bootstrapBusybox(daemon);
  });
});

async function diskUsageKb(dir: string): Promise<number> {
  const r = await runCommand('du', ['-sk', '-x', dir]);
  return Number(r.stdout.split('\t')[0]);
}
