import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { apiRequest, bootstrapBusybox, needsRoot, startTestDaemon, type TestDaemon } from '../helpers/test-daemon';
import { docker, DOCKER_CLIENTS, type CommandResult } from '../helpers/cli';
import { type PrivateDockerd, privateDockerdSkipReason, startPrivateDockerd } from '../helpers/private-dockerd';
import { listMountsUnder } from '../../src/snapshots/overlay/mountinfo';

const CLIENT = DOCKER_CLIENTS[0];
const skip = needsRoot('needs root (runc, overlay mounts)') || (CLIENT ? false : 'no docker CLI installed') || (privateDockerdSkipReason() ?? false);

/** What the image `copyimg` holds at /srv/d: owners, modes, a symlink, a hard link, a fifo, a sticky dir; /escape is a symlink climbing out of `/`. */
const MAKE_IMAGE = [
  'mkdir -p /srv/d/sub/deeper',
  'echo hello > /srv/d/f',
  'chown 123:456 /srv/d/f && chmod 640 /srv/d/f',
  'ln /srv/d/f /srv/d/hard',
  'ln -s f /srv/d/link && ln -s /etc/passwd /srv/d/abs-link',
  'mkfifo /srv/d/fifo',
  'chmod 1777 /srv/d/sub && chown 7:8 /srv/d/sub/deeper',
  'echo deep > /srv/d/sub/deeper/x',
  'chown 321:654 /srv/d && chmod 750 /srv/d',
  'ln -s ../../../../../../../../etc /escape',
].join(' && ');

/** A shell command printing one line per entry under `dir`: name, type, mode, owner, links, size (and a symlink`s target). */
const listing = (dir: string) => `cd ${dir} && find . | sort | while read -r p; do stat -c "%n|%F|%a|%u:%g|%h|%s" "$p"; [ -L "$p" ] && readlink "$p"; done; true`;

/**
 * Volume copy-up against a private dockerd, the same commands through the docker CLI on
 * both: an empty named volume mounted where the image has a directory is filled with it at
 * create; nocopy, a non-empty volume and bind mounts are left alone; a symlink in the image
 * at the mount path is followed inside the image, never to the host.
 */
describe('volume copy-up matches dockerd (docker CLI)', { skip }, () => {
  let daemon: TestDaemon;
  let dockerd: PrivateDockerd;
  let hosts: Array<[string, string]>;
  const run = async (host: string, args: string[]): Promise<CommandResult> => {
    const r = await docker(CLIENT!, host, args, { timeoutMs: 120_000 });
    assert.equal(r.code, 0, `${host} docker ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  /** The same command on berth and dockerd; their stdouts. */
  const both = async (args: string[]): Promise<[string, string]> => {
    const [ours, theirs] = await Promise.all(hosts.map(([, host]) => run(host, args)));
    return [ours!.stdout, theirs!.stdout];
  };
  const listVolume = (volume: string) => both(['run', '--rm', '-v', `${volume}:/v`, 'busybox', 'sh', '-c', listing('/v')]);

  before(async () => {
    [daemon, dockerd] = await Promise.all([startTestDaemon(), startPrivateDockerd()]);
    await bootstrapBusybox(daemon);
    await run(daemon.host, ['run', '--name', 'maker', 'busybox', 'sh', '-c', MAKE_IMAGE]);
    await run(daemon.host, ['commit', 'maker', 'copyimg']);
    await run(daemon.host, ['rm', 'maker']);
    const archive = (await run(daemon.host, ['save', 'busybox', 'copyimg'])).stdoutBytes;
    const loaded = await docker(CLIENT!, dockerd.host, ['load'], { input: archive });
    assert.equal(loaded.code, 0, loaded.stderr);
    hosts = [
      ['berth', daemon.host],
      ['dockerd', dockerd.host],
    ];
  });
  after(async () => {
    await Promise.all([daemon?.stop(), dockerd?.stop()]);
  });

  it('an empty named volume gets the image`s /etc: docker run --rm -v v1:/etc busybox ls /etc', async () => {
    const [ours, theirs] = await both(['run', '--rm', '-v', 'etcvol:/etc', 'busybox', 'ls', '/etc']);
    const [oursPlain, theirsPlain] = await both(['run', '--rm', 'busybox', 'ls', '/etc']);
    assert.match(ours, /^passwd$/m);
    assert.equal(ours, oursPlain, 'berth: the same /etc as without the volume');
    assert.equal(theirs, theirsPlain, 'dockerd: the same /etc as without the volume');
    // dockerd's init layer adds an /etc/mtab link to every container; berth has none, volume or not.
    assert.equal(ours, theirs.replace(/^mtab\n/m, ''));
    const [passwdOurs, passwdTheirs] = await both(['run', '--rm', '-v', 'etcvol:/v', 'busybox', 'cat', '/v/passwd']);
    assert.equal(passwdOurs, passwdTheirs, 'the image`s passwd, copied');
  });

  it('files, directories, owners, modes, symlinks, hard links and fifos are copied as dockerd copies them', async () => {
    await both(['run', '--rm', '-v', 'full:/srv/d', 'copyimg', 'true']);
    const [ours, theirs] = await listVolume('full');
    assert.match(ours, /^\.\|directory\|750\|321:654\|/m, 'the volume root takes the image dir`s owner and mode');
    assert.match(ours, /^\.\/f\|regular file\|640\|123:456\|2\|6$/m, 'owner, mode, and the hard link kept');
    assert.match(ours, /^\.\/link\|symbolic link\|777\|0:0\|1\|1\nf$/m, 'a symlink stays a symlink');
    assert.match(ours, /^\.\/fifo\|fifo\|/m);
    assert.equal(ours, theirs);
  });

  it('the mount API copies too, and VolumeOptions.NoCopy / -v :nocopy leave the volume empty', async () => {
    await both(['run', '--rm', '--mount', 'type=volume,src=mounted,dst=/srv/d', 'copyimg', 'true']);
    await both(['run', '--rm', '--mount', 'type=volume,src=mountnocopy,dst=/srv/d,volume-nocopy', 'copyimg', 'true']);
    await both(['run', '--rm', '-v', 'bindnocopy:/srv/d:nocopy', 'copyimg', 'true']);
    const [mountedOurs, mountedTheirs] = await listVolume('mounted');
    assert.match(mountedOurs, /^\.\/sub\/deeper\/x\|regular file\|/m);
    assert.equal(mountedOurs, mountedTheirs);
    for (const volume of ['mountnocopy', 'bindnocopy']) {
      const [ours, theirs] = await listVolume(volume);
      assert.equal(ours.split('\n').filter(Boolean).length, 1, `${volume} holds nothing: ${ours}`);
      assert.equal(ours, theirs, volume);
    }
  });

  it('anonymous volumes copy too (-v /path, --mount without a source), but not with volume-nocopy', async () => {
    const [fromV, fromVTheirs] = await both(['run', '--rm', '-v', '/srv/d', 'copyimg', 'sh', '-c', listing('/srv/d')]);
    assert.match(fromV, /^\.\/sub\/deeper\/x\|regular file\|/m);
    assert.equal(fromV, fromVTheirs);
    const [fromMount, fromMountTheirs] = await both(['run', '--rm', '--mount', 'type=volume,dst=/srv/d', 'copyimg', 'sh', '-c', listing('/srv/d')]);
    assert.equal(fromMount, fromV);
    assert.equal(fromMount, fromMountTheirs);
    const [empty, emptyTheirs] = await both(['run', '--rm', '--mount', 'type=volume,dst=/srv/d,volume-nocopy', 'copyimg', 'sh', '-c', listing('/srv/d')]);
    assert.equal(empty.split('\n').filter(Boolean).length, 1, empty);
    assert.equal(empty, emptyTheirs);
  });

  it('a volume with anything in it is never touched', async () => {
    await both(['run', '--rm', '-v', 'used:/v', 'busybox', 'sh', '-c', 'echo mine > /v/own && chmod 700 /v']);
    const [before] = await listVolume('used');
    await both(['run', '--rm', '-v', 'used:/srv/d', 'copyimg', 'true']);
    const [ours, theirs] = await listVolume('used');
    assert.equal(ours, before, 'nothing changed');
    assert.equal(ours, theirs);
  });

  it('a bind mount never copies', async () => {
    const dirs = await Promise.all(hosts.map(([name]) => fs.mkdtemp(path.join(daemon.root, `bind-${name}-`))));
    await Promise.all(hosts.map(([, host], i) => run(host, ['run', '--rm', '-v', `${dirs[i]}:/srv/d`, 'copyimg', 'true'])));
    for (const dir of dirs) assert.deepEqual(await fs.readdir(dir), []);
  });

  it('a symlink at the mount path climbing out of / is followed inside the image, never to the host', async () => {
    await both(['run', '--rm', '-v', 'escape:/escape', 'copyimg', 'true']);
    const [ours, theirs] = await listVolume('escape');
    const [imageEtc] = await both(['run', '--rm', 'busybox', 'sh', '-c', 'cat /etc/passwd']);
    const [copied] = await both(['run', '--rm', '-v', 'escape:/v', 'busybox', 'cat', '/v/passwd']);
    assert.equal(copied, imageEtc, 'the image`s passwd, not the host`s');
    const hostOnly = (await fs.readdir('/etc')).filter((n) => !ours.includes(`./${n}|`));
    assert.ok(hostOnly.length > 0);
    for (const name of await fs.readdir('/etc')) {
      if (hostOnly.includes(name)) assert.doesNotMatch(ours, new RegExp(`^\\./${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\|`, 'm'));
    }
    // dockerd copies from the container's root, where its init layer adds empty
    // hostname/hosts/resolv.conf and an mtab link to /etc; berth copies the image alone.
    const initLayer = /^\.\/(hostname|hosts|resolv\.conf|mtab)\|.*\n(\/proc\/mounts\n)?/gm;
    assert.equal(ours.replace(initLayer, ''), theirs.replace(initLayer, ''));
  });

  it('views are released: no view mount or snapshot is left after create', async () => {
    await run(daemon.host, ['create', '--name', 'holder', '-v', 'late:/srv/d', 'copyimg', 'true']);
    assert.deepEqual(await listMountsUnder(path.join(daemon.dataRoot, 'rootfs', '.views')).catch(() => []), []);
    const metadata = JSON.parse(await fs.readFile(path.join(daemon.dataRoot, 'snapshots', 'metadata.json'), 'utf8')) as unknown;
    assert.doesNotMatch(JSON.stringify(metadata), /berth\.io\/view/);
    const volume = JSON.parse((await apiRequest(daemon.socket, 'GET', '/volumes/late')).body) as { Mountpoint: string };
    assert.ok((await fs.readdir(volume.Mountpoint)).includes('f'), 'copied at create, before any start');
    await both(['create', '--name', 'nocopy-holder', '-v', 'made-at-create:/srv/d:nocopy', '--mount', 'type=volume,src=mount-at-create,dst=/x,volume-nocopy', 'copyimg', 'true']);
    const [ours, theirs] = await both(['volume', 'ls', '-q', '--filter', 'name=-at-create']);
    assert.equal(ours, 'made-at-create\nmount-at-create\n', 'named volumes exist from create on, copy or not');
    assert.equal(ours, theirs);
    await both(['rm', 'nocopy-holder']);
    await run(daemon.host, ['rm', 'holder']);
  });
});
