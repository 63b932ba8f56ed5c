import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bootstrapBusybox, needsRoot, startTestDaemon, TestDaemon } from '../helpers/test-daemon';
import { berth, CommandResult, DOCKER_CLIENTS, runCommand } from '../helpers/cli';
import { PrivateDockerd, privateDockerdSkipReason, startPrivateDockerd } from '../helpers/private-dockerd';
import { readTar } from '../integration/images/helpers';

const skip = needsRoot('needs root (runc, overlay mounts)') || (privateDockerdSkipReason() ?? false);
const COMPOSE = '/usr/bin/docker-compose';

type Json = Record<string, unknown>;

/**
 * The same docker CLI commands against berthd and a private dockerd 20.10 holding the same
 * busybox image (berth's, saved and loaded there): image inspect's shape, history after
 * commit, diff and ps answer alike.
 */
describe('docker CLI side by side: berthd and dockerd 20.10', { skip }, () => {
  let daemon: TestDaemon;
  let dockerd: PrivateDockerd;
  /** At API 1.41 (dockerd 20.10's), whichever docker client runs. */
  const on = (host: string, args: string[], client = DOCKER_CLIENTS[0]!, apiVersion = '1.41'): Promise<CommandResult> =>
    runCommand(client, ['-H', host, ...args], { env: { DOCKER_CONFIG: '/nonexistent-docker-config', DOCKER_CLI_HINTS: 'false', DOCKER_API_VERSION: apiVersion } });
  const both = async (args: string[]): Promise<[CommandResult, CommandResult]> => {
    const results = await Promise.all([on(daemon.host, args), on(dockerd.host, args)]);
    for (const r of results) assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return results;
  };
  const inspectBoth = async (name: string): Promise<[Json, Json]> => {
    const [b, d] = await both(['image', 'inspect', name]);
    return [(JSON.parse(b.stdout) as Json[])[0]!, (JSON.parse(d.stdout) as Json[])[0]!];
  };

  /** An image of busybox's binary alone (no /etc, /dev, /proc, /sys), imported on both daemons as `mini:1`. */
  const importMini = async (): Promise<void> => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mini-'));
    try {
      await fs.mkdir(path.join(dir, 'bin'));
      await both(['create', '--name', 'mini-src', 'busybox']);
      const cp = await on(daemon.host, ['cp', 'mini-src:/bin/busybox', path.join(dir, 'bin', 'busybox')]);
      assert.equal(cp.code, 0, cp.stderr);
      await both(['rm', 'mini-src']);
      const tar = await runCommand('tar', ['-C', dir, '-cf', '-', 'bin']);
      for (const host of [daemon.host, dockerd.host]) {
        const imported = await runCommand(DOCKER_CLIENTS[0]!, ['-H', host, 'import', '-', 'mini:1'], { input: tar.stdoutBytes, env: { DOCKER_CONFIG: '/nonexistent-docker-config' } });
        assert.equal(imported.code, 0, imported.stderr);
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  };

  before(async () => {
    [daemon, dockerd] = await Promise.all([startTestDaemon(), startPrivateDockerd()]);
    await bootstrapBusybox(daemon);
    const archive = (await berth(daemon.host, ['save', 'busybox'])).stdoutBytes;
    const into = await runCommand(DOCKER_CLIENTS[0]!, ['-H', dockerd.host, 'load'], { input: archive, env: { DOCKER_CONFIG: '/nonexistent-docker-config' } });
    assert.equal(into.code, 0, into.stderr);
    await importMini();
  });
  after(async () => {
    await Promise.all([daemon?.stop(), dockerd?.stop()]);
  });

  it('image inspect: the same keys at top level, in Config, ContainerConfig, RootFS and Metadata, and the same values for the same image', async () => {
    const [b, d] = await inspectBoth('busybox');
    assert.deepEqual(Object.keys(b).sort(), Object.keys(d).sort());
    for (const key of ['Config', 'ContainerConfig', 'RootFS', 'Metadata']) {
      assert.deepEqual(Object.keys(b[key] as Json).sort(), Object.keys(d[key] as Json).sort(), key);
    }
    // Metadata.LastTagTime differs: berth's busybox was tagged by its bootstrap, dockerd's by a load (which leaves the zero time).
    for (const key of ['Id', 'RepoTags', 'Parent', 'Comment', 'Created', 'Container', 'ContainerConfig', 'Author', 'Config', 'Architecture', 'Os', 'Size', 'VirtualSize', 'RootFS']) {
      assert.deepEqual(b[key], d[key], key);
    }
  });

  it('image inspect of a commit: the same keys; ContainerConfig is the container config (Cmd, Image, Hostname) on both', async () => {
    await both(['run', '--name', 'shape', '--network', 'none', 'busybox', 'sh', '-c', 'touch /x']);
    await both(['commit', 'shape', 'shape:1']);
    const [b, d] = await inspectBoth('shape:1');
    const [cb, cd] = await both(['inspect', '-f', '{{.Id}} {{.Config.Hostname}}', 'shape']);
    assert.deepEqual(Object.keys(b).sort(), Object.keys(d).sort());
    for (const key of ['Config', 'ContainerConfig', 'RootFS', 'Metadata']) {
      assert.deepEqual(Object.keys(b[key] as Json).sort(), Object.keys(d[key] as Json).sort(), key);
    }
    for (const [image, container] of [[b, cb], [d, cd]] as const) {
      const [id, hostname] = container.stdout.trim().split(' ');
      const cc = image.ContainerConfig as Json;
      assert.equal(image.Container, id);
      assert.deepEqual(cc.Cmd, ['sh', '-c', 'touch /x']);
      assert.equal(cc.Image, 'busybox');
      assert.equal(cc.Hostname, hostname);
      assert.deepEqual((image.Config as Json).Cmd, ['sh', '-c', 'touch /x']);
    }
    for (const key of ['Parent', 'Comment', 'Author', 'Architecture', 'Os', 'Size']) assert.deepEqual(b[key], d[key], key);
    await both(['rm', 'shape']);
  });

  it('image inspect at API 1.45 (docker 28) leaves out VirtualSize as moby does, and keeps ContainerConfig (intended: docker-compose v1 negotiates 1.45 and reads it)', async () => {
    const r = await on(daemon.host, ['image', 'inspect', 'busybox'], DOCKER_CLIENTS[0], '1.45');
    assert.equal(r.code, 0, r.stderr);
    const keys = Object.keys((JSON.parse(r.stdout) as Json[])[0]!);
    assert.ok(!keys.includes('VirtualSize'));
    for (const kept of ['Config', 'Container', 'ContainerConfig']) assert.ok(keys.includes(kept), kept);
  });

  it('history after commits: CreatedBy is the container command, IDs follow the parent chain (each docker client)', async () => {
    await both(['run', '--name', 'h1', '--network', 'none', 'busybox', 'sh', '-c', 'touch /x']);
    await both(['commit', 'h1', 'hist:1']);
    await both(['run', '--name', 'h2', '--network', 'none', 'hist:1', 'touch', '/y']);
    await both(['commit', '-m', 'second', '-c', 'CMD ["/bin/echo","hi"]', 'h2', 'hist:2']);
    const symbolic = async (host: string): Promise<Map<string, string>> => {
      const names = new Map<string, string>();
      for (const name of ['busybox', 'hist:1', 'hist:2']) names.set((await on(host, ['image', 'inspect', '-f', '{{.Id}}', name])).stdout.trim(), name);
      return names;
    };
    const [namesB, namesD] = await Promise.all([symbolic(daemon.host), symbolic(dockerd.host)]);
    for (const client of DOCKER_CLIENTS) {
      const format = ['history', '--no-trunc', '--format', '{{.ID}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}', 'hist:2'];
      const [b, d] = await Promise.all([on(daemon.host, format, client), on(dockerd.host, format, client)]);
      const readable = (out: string, names: Map<string, string>) =>
        out.trim().split('\n').map((line) => {
          const [id, ...rest] = line.split('|');
          return [names.get(id!) ?? id, ...rest].join('|');
        });
      const expected = ['hist:2|touch /y|0B|second', 'hist:1|sh -c touch /x|0B|', `busybox|${(await on(dockerd.host, ['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'busybox'])).stdout.trim()}|1.98MB|`];
      assert.deepEqual(readable(d.stdout, namesD), expected, `${client}: dockerd`);
      assert.deepEqual(readable(b.stdout, namesB), expected, `${client}: berth`);
      // The table: IMAGE shows the short IDs of the chain on both.
      const [tb, td] = await Promise.all([on(daemon.host, ['history', 'hist:2'], client), on(dockerd.host, ['history', 'hist:2'], client)]);
      const ids = (out: string) => out.trim().split('\n').slice(1).map((l) => l.split(/\s+/)[0]);
      assert.deepEqual(ids(tb.stdout), [...namesB.keys()].reverse().map((id) => id.slice(7, 19)));
      assert.deepEqual(ids(td.stdout), [...namesD.keys()].reverse().map((id) => id.slice(7, 19)));
    }
    await both(['rm', 'h1', 'h2']);
  });

  it('history of an image whose parents are not known: <missing> below the top, as dockerd shows a loaded image', async () => {
    // dockerd's save of hist:2 loads into berth as an image with three history entries and no parent.
    const archive = await runCommand(DOCKER_CLIENTS[0]!, ['-H', dockerd.host, 'save', 'hist:2'], { env: { DOCKER_CONFIG: '/nonexistent-docker-config' } });
    await on(daemon.host, ['rmi', 'hist:2', 'hist:1']);
    const loaded = await runCommand(DOCKER_CLIENTS[0]!, ['-H', daemon.host, 'load'], { input: archive.stdoutBytes, env: { DOCKER_CONFIG: '/nonexistent-docker-config' } });
    assert.equal(loaded.code, 0, loaded.stderr);
    const id = (await on(dockerd.host, ['image', 'inspect', '-f', '{{.Id}}', 'hist:2'])).stdout.trim();
    const history = await on(daemon.host, ['history', '--no-trunc', '--format', '{{.ID}}|{{.CreatedBy}}', 'hist:2']);
    const busybox = (await on(daemon.host, ['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'busybox'])).stdout.trim();
    assert.deepEqual(history.stdout.trim().split('\n'), [`${id}|touch /y`, '<missing>|sh -c touch /x', `<missing>|${busybox}`]);
  });

  it('diff shows only real changes, not the mount points the runtime makes (each docker client)', async () => {
    const cases: Array<[string, string[], string[]]> = [
      // A write to /etc/hosts goes to the container's own hosts file, as in Docker.
      ['busybox', ['sh', '-c', 'touch /x; echo 10.0.0.1 x >> /etc/hosts; mkdir /etc/foo'], ['A /etc/foo', 'A /x', 'C /etc']],
      ['busybox', ['true'], []],
      ['busybox', ['sh', '-c', 'echo x >> /etc/passwd; rm /bin/ls'], ['C /bin', 'C /etc', 'C /etc/passwd', 'D /bin/ls']],
      // No /etc, /dev, /proc or /sys in the image: the ones the runtime makes still do not show.
      ['mini:1', ['/bin/busybox', 'touch', '/x'], ['A /x']],
      ['mini:1', ['/bin/busybox', 'sh', '-c', 'echo 1.2.3.4 y >> /etc/hosts; echo y > /etc/hostname'], []],
      ['mini:1', ['/bin/busybox', 'touch', '/etc/foo'], ['A /etc/foo', 'C /etc']],
      // Docker's init layer holds /.dockerenv and /etc/mtab: replacing them is a change there.
      ['mini:1', ['/bin/busybox', 'sh', '-c', 'echo hi > /.dockerenv; /bin/busybox ln -sf /proc/mounts /etc/mtab'], ['C /.dockerenv', 'C /etc', 'C /etc/mtab']],
    ];
    for (const [i, [image, command, expected]] of cases.entries()) {
      await both(['run', '--name', `diff${i}`, '--network', 'none', image, ...command]);
      for (const client of DOCKER_CLIENTS) {
        const [b, d] = await Promise.all([on(daemon.host, ['diff', `diff${i}`], client), on(dockerd.host, ['diff', `diff${i}`], client)]);
        // dockerd's order is the walk's; berth sorts by path.
        const lines = (out: string) => out.split('\n').filter((l) => l !== '').sort();
        assert.deepEqual(lines(d.stdout), expected, `dockerd: ${command.join(' ')}`);
        assert.deepEqual(lines(b.stdout), expected, `${client}, berth: ${command.join(' ')}`);
      }
      await both(['rm', `diff${i}`]);
    }
    // A running container of an image without /dev, /proc, /sys, /etc, and a created one: no changes.
    await both(['run', '-d', '--name', 'diff-live', '--network', 'none', 'mini:1', '/bin/busybox', 'sleep', '300']);
    await both(['create', '--name', 'diff-created', '--network', 'none', 'mini:1', '/bin/busybox', 'true']);
    for (const name of ['diff-live', 'diff-created']) {
      const [b, d] = await both(['diff', name]);
      assert.equal(d.stdout, '', `dockerd: ${name}`);
      assert.equal(b.stdout, '', `berth: ${name}`);
    }
    await both(['rm', '-f', 'diff-live', 'diff-created']);
  });

  it('ps: ancestor= resolves the reference and matches descendants, COMMAND is re-quoted, -s shows (virtual N) (docker CLI and berth CLI)', async () => {
    await both(['tag', 'busybox', 'busybox:1.27.2']);
    await both(['run', '-d', '--name', 'p1', '--network', 'none', 'busybox:1.27.2', 'sh', '-c', 'i=0; while true; do i=$((i+1)); sleep 1; done']);
    await both(['run', '--name', 'p2', '--network', 'none', 'busybox', 'sh', '-c', 'echo hello > /data']);
    await both(['commit', 'p2', 'child:1']);
    await both(['run', '-d', '--name', 'p3', '--network', 'none', 'child:1', 'sleep', '300']);
    await both(['run', '--name', 'p4', '--network', 'none', 'mini:1', '/bin/busybox', 'true']);
    const expectations: Array<[string[], string]> = [
      [['ps', '-a', '--filter', 'ancestor=busybox:1.27.2', '--format', '{{.Names}} {{.Command}}'], `p3 "sleep 300"\np2 "sh -c 'echo hello >…"\np1 "sh -c 'i=0; while t…"\n`],
      [['ps', '-a', '--filter', 'ancestor=child:1', '--format', '{{.Names}}'], 'p3\n'],
      [['ps', '-a', '--filter', 'ancestor=no-such-image:1', '--format', '{{.Names}}'], ''],
      [['ps', '-a', '--no-trunc', '--filter', 'name=p1', '--format', '{{.Command}}'], `"sh -c 'i=0; while true; do i=$((i+1)); sleep 1; done'"\n`],
      [['ps', '-a', '-s', '--format', '{{.Names}} {{.Size}}'], 'p4 0B (virtual 1.98MB)\np3 0B (virtual 1.98MB)\np2 6B (virtual 1.98MB)\np1 0B (virtual 1.98MB)\n'],
    ];
    for (const [args, expected] of expectations) {
      for (const client of DOCKER_CLIENTS) {
        const [b, d] = await Promise.all([on(daemon.host, args, client), on(dockerd.host, args, client)]);
        assert.equal(d.stdout, expected, `dockerd, ${client}: ${args.join(' ')}`);
        assert.equal(b.stdout, expected, `berth, ${client}: ${args.join(' ')}`);
      }
      // The berth CLI prints the same, against either daemon.
      for (const host of [daemon.host, dockerd.host]) {
        const r = await berth(host, args);
        assert.equal(r.stdout, expected, `berth CLI on ${host}: ${args.join(' ')}: ${r.stderr}`);
      }
    }
    const table = await berth(daemon.host, ['ps', '-a', '-s', '--filter', 'name=p2']);
    assert.match(table.stdout, /SIZE\n[0-9a-f]{12}\s+busybox\s+"sh -c 'echo hello >…"\s.*\sp2\s+6B \(virtual 1\.98MB\)\n$/);
    await both(['rm', '-f', 'p1', 'p2', 'p3', 'p4']);
  });

  it('commit leaves out the mount points the runtime made (the layer dockerd commits), and a commit of no changes adds no layer', async () => {
    /** The entries of the image's top layer, and how many layers it has, from `docker save`. */
    const topLayer = async (host: string, image: string): Promise<{ layers: number; entries: string[] }> => {
      const saved = await runCommand(DOCKER_CLIENTS[0]!, ['-H', host, 'save', image], { env: { DOCKER_CONFIG: '/nonexistent-docker-config' } });
      assert.equal(saved.code, 0, saved.stderr);
      const files = await readTar(saved.stdoutBytes);
      const manifest = JSON.parse(files.find((f) => f.name === 'manifest.json')!.data.toString()) as Array<{ Layers: string[] }>;
      const layers = manifest[0]!.Layers;
      const top = files.find((f) => f.name === layers[layers.length - 1])!;
      return { layers: layers.length, entries: (await readTar(top.data)).map((e) => `${e.type} ${e.name.replace(/\/$/, '')}`).sort() };
    };
    const cases: Array<[string, string[]]> = [
      ['busybox', ['sh', '-c', 'echo 1 > /etc/x; mkdir /newdir']],
      ['mini:1', ['/bin/busybox', 'touch', '/x']],
    ];
    for (const [i, [image, command]] of cases.entries()) {
      await both(['run', '--name', `commit${i}`, '--network', 'none', image, ...command]);
      await both(['commit', `commit${i}`, `committed:${i}`]);
      const [b, d] = await Promise.all([topLayer(daemon.host, `committed:${i}`), topLayer(dockerd.host, `committed:${i}`)]);
      assert.deepEqual(b, d, command.join(' '));
      await both(['rm', `commit${i}`]);
    }
    // Nothing changed: dockerd records an empty_layer history entry and no layer.
    await both(['run', '--name', 'commit-none', '--network', 'none', 'mini:1', '/bin/busybox', 'true']);
    await both(['commit', 'commit-none', 'committed:none']);
    const [lb, ld] = await both(['image', 'inspect', '-f', '{{len .RootFS.Layers}}', 'committed:none']);
    assert.equal(ld.stdout, '1\n');
    assert.equal(lb.stdout, '1\n');
    const [hb, hd] = await both(['history', '--format', '{{.CreatedBy}}|{{.Size}}', 'committed:none']);
    assert.equal(hb.stdout, hd.stdout);
    const ran = await on(daemon.host, ['run', '--rm', '--network', 'none', 'committed:none', '/bin/busybox', 'ls', '/bin']);
    assert.equal(ran.stdout, 'busybox\n', ran.stderr);
    await both(['rm', 'commit-none']);
  });

  it('docker-compose v1 up, then up --force-recreate (which reads the image ContainerConfig), images, down', { skip: existsSync(COMPOSE) ? false : `${COMPOSE} not installed` }, async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'compose-'));
    // network_mode: none, because compose creates a network for any other service and berth has no network API yet.
    await fs.writeFile(path.join(dir, 'docker-compose.yml'), 'version: "2.4"\nservices:\n  web:\n    image: busybox\n    command: sh -c "echo up; sleep 300"\n    network_mode: none\n');
    const compose = (args: string[]) =>
      runCommand(COMPOSE, ['-f', path.join(dir, 'docker-compose.yml'), '-p', 'shapes', ...args], { env: { DOCKER_HOST: daemon.host, DOCKER_CONFIG: '/nonexistent-docker-config' }, timeoutMs: 120_000 });
    try {
      const up = await compose(['up', '-d']);
      assert.equal(up.code, 0, up.stderr);
      const first = (await on(daemon.host, ['ps', '-q', '--filter', 'label=com.docker.compose.project=shapes'])).stdout.trim();
      assert.match(first, /^[0-9a-f]{12}$/);
      const recreate = await compose(['up', '-d', '--force-recreate']);
      assert.equal(recreate.code, 0, recreate.stderr);
      assert.doesNotMatch(recreate.stderr, /KeyError/);
      const second = (await on(daemon.host, ['ps', '-q', '--filter', 'label=com.docker.compose.project=shapes'])).stdout.trim();
      assert.match(second, /^[0-9a-f]{12}$/);
      assert.notEqual(second, first, 'the container was recreated');
      const images = await compose(['images']);
      assert.equal(images.code, 0, images.stderr);
      const imageId = (await on(daemon.host, ['image', 'inspect', '-f', '{{.Id}}', 'busybox'])).stdout.trim();
      assert.match(images.stdout, new RegExp(`shapes_web_1\\s+busybox\\s+latest\\s+${imageId.slice(7, 19)}\\s+1\\.98\\d* MB`));
      const down = await compose(['down']);
      assert.equal(down.code, 0, down.stderr);
      assert.equal((await on(daemon.host, ['ps', '-aq', '--filter', 'label=com.docker.compose.project=shapes'])).stdout, '');
    } finally {
      await compose(['down']);
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
