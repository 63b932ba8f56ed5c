import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapBusybox, needsRoot, startTestDaemon, TestDaemon } from '../helpers/test-daemon';
import { berth, docker, DOCKER_CLIENTS } from '../helpers/cli';
import { PrivateDockerd, privateDockerdSkipReason, startPrivateDockerd } from '../helpers/private-dockerd';
import { legacyArchive } from '../helpers/legacy-archive';
import { readTar, writeTarEntries } from '../integration/images/helpers';
import { digestOf } from '../../src/util/digest';

const skip = needsRoot('needs root (runc, overlay mounts)') || (privateDockerdSkipReason() ?? false);

/** Images move between berth and a real dockerd (a private one, so CI runs this too). */
describe('image interop with a real dockerd: save | load both ways', { skip }, () => {
  let daemon: TestDaemon;
  let dockerd: PrivateDockerd;
  let busyboxId: string;

  before(async () => {
    [daemon, dockerd] = await Promise.all([startTestDaemon(), startPrivateDockerd()]);
    await bootstrapBusybox(daemon);
    busyboxId = (await berth(daemon.host, ['image', 'inspect', '-f', '{{.Id}}', 'busybox'])).stdout.trim();
    assert.match(busyboxId, /^sha256:[a-f0-9]{64}$/);
  });
  after(async () => {
    await Promise.all([daemon?.stop(), dockerd?.stop()]);
  });

  it('berth save busybox | docker load, then docker run works there (each docker client)', async () => {
    const archive = (await berth(daemon.host, ['save', 'busybox'])).stdoutBytes;
    for (const client of DOCKER_CLIENTS) {
      await docker(client, dockerd.host, ['rmi', '-f', 'busybox']);
      const loaded = await docker(client, dockerd.host, ['load'], { input: archive });
      assert.equal(loaded.code, 0, loaded.stderr);
      assert.match(loaded.stdout, /Loaded image: busybox:latest/);
      const id = await docker(client, dockerd.host, ['image', 'inspect', '-f', '{{.Id}}', 'busybox']);
      assert.equal(id.stdout.trim(), busyboxId, `${client}: dockerd computes the same image id`);
      const ran = await docker(client, dockerd.host, ['run', '--rm', '--network', 'none', 'busybox', 'echo', 'hello from dockerd']);
      assert.equal(ran.code, 0, ran.stderr);
      assert.equal(ran.stdout, 'hello from dockerd\n');
    }
  });

  it('docker save from dockerd | berth load gives the same image id (each docker client)', async () => {
    for (const client of DOCKER_CLIENTS) {
      await docker(client, dockerd.host, ['tag', 'busybox', 'from-docker:1']);
      const saved = (await docker(client, dockerd.host, ['save', 'from-docker:1'])).stdoutBytes;
      const loaded = await berth(daemon.host, ['load'], { input: saved });
      assert.equal(loaded.code, 0, loaded.stderr);
      assert.match(loaded.stdout, /Loaded image: from-docker:1/);
      const id = await berth(daemon.host, ['image', 'inspect', '-f', '{{.Id}}', 'from-docker:1']);
      assert.equal(id.stdout.trim(), busyboxId);
      // The docker client can load into berth as well.
      await berth(daemon.host, ['rmi', 'from-docker:1']);
      const viaDocker = await docker(client, daemon.host, ['load'], { input: saved });
      assert.equal(viaDocker.code, 0, viaDocker.stderr);
      const ran = await docker(client, daemon.host, ['run', '--rm', 'from-docker:1', 'echo', 'back in berth']);
      assert.equal(ran.stdout, 'back in berth\n', ran.stderr);
      await berth(daemon.host, ['rmi', 'from-docker:1']);
      await docker(client, dockerd.host, ['rmi', 'from-docker:1']);
    }
  });

  /** dockerd has berth's busybox (the first test loads it; a test run alone loads it here). */
  async function busyboxInDockerd(client: string): Promise<void> {
    if ((await docker(client, dockerd.host, ['image', 'inspect', 'busybox'])).code === 0) return;
    const loaded = await docker(client, dockerd.host, ['load'], { input: (await berth(daemon.host, ['save', 'busybox'])).stdoutBytes });
    assert.equal(loaded.code, 0, loaded.stderr);
  }

  async function idOf(client: string, host: string, name: string): Promise<string> {
    const r = await docker(client, host, ['image', 'inspect', '-f', '{{.Id}}', name]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  }

  it('a config with a trailing newline and its keys in another order keeps its digest: dockerd → berth → dockerd by the docker CLI', async () => {
    const client = DOCKER_CLIENTS[0];
    // berth's busybox, its config re-written (keys reversed, indented, a trailing newline), as a Docker 20.10 archive.
    const entries = await readTar((await berth(daemon.host, ['save', 'busybox'])).stdoutBytes);
    const manifest = JSON.parse(entries.find((e) => e.name === 'manifest.json')!.data.toString()) as Array<{ Config: string; RepoTags: string[] }>;
    const reverse = (v: unknown): unknown =>
      Array.isArray(v) ? v.map(reverse) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverse(x)])) : v;
    const config = Buffer.from(`${JSON.stringify(reverse(JSON.parse(entries.find((e) => e.name === manifest[0].Config)!.data.toString())), null, 2)}\n`);
    const expectedId = digestOf(config);
    const configName = `${expectedId.slice(7)}.json`;
    const crafted = await writeTarEntries([
      ...entries.filter((e) => e.name !== manifest[0].Config && !['manifest.json', 'index.json', 'oci-layout'].includes(e.name)),
      { name: configName, type: 'file', data: config },
      { name: 'manifest.json', type: 'file', data: Buffer.from(JSON.stringify([{ ...manifest[0], Config: configName, RepoTags: ['odd-config:1'] }])) },
    ]);
    const intoDockerd = await docker(client, dockerd.host, ['load'], { input: crafted });
    assert.equal(intoDockerd.code, 0, intoDockerd.stderr);
    assert.equal(await idOf(client, dockerd.host, 'odd-config:1'), expectedId, 'dockerd: the ID is the digest of the bytes');

    // docker save from dockerd | docker load into berth
    const saved = (await docker(client, dockerd.host, ['save', 'odd-config:1'])).stdoutBytes;
    const intoBerth = await docker(client, daemon.host, ['load'], { input: saved });
    assert.equal(intoBerth.code, 0, intoBerth.stderr);
    assert.match(intoBerth.stdout, /Loaded image: odd-config:1/);
    assert.equal(await idOf(client, daemon.host, 'odd-config:1'), expectedId, 'berth keeps the config byte for byte');

    // and back: berth save | docker load into dockerd
    await docker(client, dockerd.host, ['rmi', 'odd-config:1']);
    const back = await docker(client, dockerd.host, ['load'], { input: (await docker(client, daemon.host, ['save', 'odd-config:1'])).stdoutBytes });
    assert.equal(back.code, 0, back.stderr);
    assert.equal(await idOf(client, dockerd.host, 'odd-config:1'), expectedId);
    await docker(client, dockerd.host, ['rmi', 'odd-config:1']);
    await docker(client, daemon.host, ['rmi', 'odd-config:1']);
  });

  it('an image dockerd commits (a config Go wrote: <, > and & escaped) keeps its ID in berth and back', async () => {
    const client = DOCKER_CLIENTS[0];
    await busyboxInDockerd(client);
    const ran = await docker(client, dockerd.host, ['run', '--name', 'committer', '--network', 'none', 'busybox', 'sh', '-c', 'echo committed > /f && echo "<done>"']);
    assert.equal(ran.code, 0, ran.stderr);
    const committed = await docker(client, dockerd.host, ['commit', '-c', 'LABEL a&b=<c>', 'committer', 'dockerd-commit:1']);
    assert.equal(committed.code, 0, committed.stderr);
    await docker(client, dockerd.host, ['rm', 'committer']);
    const dockerdId = await idOf(client, dockerd.host, 'dockerd-commit:1');

    const saved = (await docker(client, dockerd.host, ['save', 'dockerd-commit:1'])).stdoutBytes;
    const loaded = await docker(client, daemon.host, ['load'], { input: saved });
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.equal(await idOf(client, daemon.host, 'dockerd-commit:1'), dockerdId);
    const cat = await docker(client, daemon.host, ['run', '--rm', 'dockerd-commit:1', 'cat', '/f']);
    assert.equal(cat.stdout, 'committed\n', cat.stderr);

    await docker(client, dockerd.host, ['rmi', 'dockerd-commit:1']);
    const back = await docker(client, dockerd.host, ['load'], { input: (await docker(client, daemon.host, ['save', 'dockerd-commit:1'])).stdoutBytes });
    assert.equal(back.code, 0, back.stderr);
    assert.equal(await idOf(client, dockerd.host, 'dockerd-commit:1'), dockerdId);
    await docker(client, dockerd.host, ['rmi', 'dockerd-commit:1']);
    await docker(client, daemon.host, ['rmi', 'dockerd-commit:1']);
  });

  it('RepoDigests an OCI archive carries (a name@digest annotation) are kept by docker load into berth, and by docker save out of it', async () => {
    const client = DOCKER_CLIENTS[0];
    const entries = await readTar((await berth(daemon.host, ['save', 'busybox'])).stdoutBytes);
    const index = JSON.parse(entries.find((e) => e.name === 'index.json')!.data.toString()) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
    const manifestDigest = index.manifests[0].digest;
    index.manifests = [
      { ...index.manifests[0], annotations: { 'io.containerd.image.name': 'docker.io/library/digested:1' } },
      { ...index.manifests[0], annotations: { 'io.containerd.image.name': `docker.io/library/digested@${manifestDigest}` } },
    ];
    const archive = await writeTarEntries([
      ...entries.filter((e) => e.name !== 'index.json' && e.name !== 'manifest.json'),
      { name: 'index.json', type: 'file', data: Buffer.from(JSON.stringify(index)) },
    ]);
    const loaded = await docker(client, daemon.host, ['load'], { input: archive });
    assert.equal(loaded.code, 0, loaded.stderr);
    const digestsOf = async () => (await docker(client, daemon.host, ['image', 'inspect', '-f', '{{json .RepoDigests}}', 'digested:1'])).stdout.trim();
    assert.equal(await digestsOf(), JSON.stringify([`digested@${manifestDigest}`]));
    const saved = (await docker(client, daemon.host, ['save', 'digested:1'])).stdoutBytes;
    await docker(client, daemon.host, ['rmi', 'digested:1', `digested@${manifestDigest}`]);
    assert.equal((await docker(client, daemon.host, ['load'], { input: saved })).code, 0);
    assert.equal(await digestsOf(), JSON.stringify([`digested@${manifestDigest}`]));
    await docker(client, daemon.host, ['rmi', 'digested:1', `digested@${manifestDigest}`]);
  });

  for (const era of ['current', 'pre-1.8.3'] as const)
  it(`a pre-1.10 archive (repositories, <layer>/json, layer.tar; json of a ${era} Docker) loads into berth as into dockerd: the same image IDs, and it runs`, async () => {
    const client = DOCKER_CLIENTS[0];
    const legacy = await legacyArchive({ repository: 'legacy-interop', tag: 'v1', era });
    for (const host of [dockerd.host, daemon.host]) {
      const loaded = await docker(client, host, ['load'], { input: legacy.tar });
      assert.equal(loaded.code, 0, loaded.stderr);
      // dockerd reports nothing for a legacy archive; berth names the tags, as for every other layout.
      if (host === daemon.host) assert.equal(loaded.stdout, 'Loaded image: legacy-interop:v1\n');
    }
    const layersOf = async (host: string) =>
      (await docker(client, host, ['image', 'inspect', '-f', '{{.Id}} {{json .RootFS.Layers}} {{json .Config.Cmd}}', 'legacy-interop:v1'])).stdout.trim();
    assert.equal(await layersOf(daemon.host), await layersOf(dockerd.host), 'berth builds the config dockerd builds');
    const historyOf = async (host: string) =>
      (await docker(client, host, ['history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Comment}}', 'legacy-interop:v1'])).stdout;
    assert.equal(await historyOf(daemon.host), await historyOf(dockerd.host));
    const ran = await docker(client, daemon.host, ['run', '--rm', 'legacy-interop:v1']);
    assert.equal(ran.stdout, 'from a legacy archive\n', ran.stderr);
    // Saved by berth (now a current archive), dockerd loads the same image.
    const dockerdLine = await layersOf(dockerd.host);
    await docker(client, dockerd.host, ['rmi', 'legacy-interop:v1']);
    const back = await docker(client, dockerd.host, ['load'], { input: (await docker(client, daemon.host, ['save', 'legacy-interop:v1'])).stdoutBytes });
    assert.equal(back.code, 0, back.stderr);
    assert.equal(await layersOf(dockerd.host), dockerdLine);
    await docker(client, daemon.host, ['rmi', 'legacy-interop:v1']);
  });
});
