/**
 * Metadata at scale: 10,000 images and 2,000 containers in a data root, then `images`,
 * `image inspect`, `ps -a` and `container inspect` through the API (medians). The records
 * are generated straight into a fresh data root (real blobs, real journals, one real
 * busybox layer shared by every image), then a berthd is started on it, stopped, and started
 * again (the start times are reported too).
 *
 *   node dist/bench/run-all.js metadata          # BENCH_IMAGES / BENCH_CONTAINERS to change the scale
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { LocalContentStore } from '../src/content/local/store';
import { OverlaySnapshotter } from '../src/snapshots/overlay/snapshotter';
import { SnapshotUnpacker } from '../src/snapshots/unpacker';
import { ImageMetadataStore, type ImageReferences } from '../src/metadata/images';
import { imageReferences } from '../src/metadata/image-references';
import { ContainerStore, newContainerId, newContainerState } from '../src/metadata/containers';
import { ImageService } from '../src/engine/images/image-service';
import { encodeJson, type ImageManifest } from '../src/images/models';
import { MediaTypes } from '../src/images/media-types';
import { parseNormalizedNamed } from '../src/images/reference';
import { digestOf, type Digest } from '../src/util/digest';
import { silentLogger } from '../src/util/logger';
import type { BenchContext } from './context';
import { EngineApi } from './lib/engine-api';
import { createPrivateNetns } from '../test/helpers/private-netns';
import { unmountUnder } from './lib/proc';
import type { BenchRow } from './lib/report';
import { median, nowMs, sample } from './lib/stats';

const DAEMON_MAIN = path.resolve(__dirname, '..', 'src', 'daemon', 'main.js');
const TARGET_MS = 50;

function envInt(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

/** Writes `images` images (each its own config and manifest over busybox's layer) and `containers` container records. */
export async function generate(dataRoot: string, busyboxArchive: Buffer, images: number, containers: number): Promise<{ containerIds: string[] }> {
  const content = new LocalContentStore(path.join(dataRoot, 'content'));
  await content.init();
  const snapshotter = new OverlaySnapshotter(path.join(dataRoot, 'snapshots'));
  await snapshotter.init();
  const layers = new SnapshotUnpacker(snapshotter);
  const metadata = new ImageMetadataStore(path.join(dataRoot, 'images'), { durable: false });
  await metadata.init();
  const service = new ImageService({ content, layers, metadata, logger: silentLogger });
  await service.load(Readable.from([busyboxArchive]));
  const busybox = await service.resolve('busybox:latest');

  const blobDir = path.dirname(content.blobPath(busybox.id));
  const writeBlob = async (bytes: Buffer): Promise<{ digest: Digest; size: number }> => {
    const digest = digestOf(bytes);
    await fs.writeFile(path.join(blobDir, digest.slice(7)), bytes, { mode: 0o600 });
    return { digest, size: bytes.length };
  };
  const batch = 500;
  for (let start = 0; start < images; start += batch) {
    const records: Array<{ id: Digest; target: { mediaType: string; digest: Digest; size: number }; references: ImageReferences; name: string }> = [];
    for (let i = start; i < Math.min(images, start + batch); i++) {
      const created = new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString();
      const config = { ...busybox.config, created, config: { ...busybox.runConfig, Labels: { 'bench.n': String(i) } } };
      const configBlob = await writeBlob(encodeJson(config));
      const manifest: ImageManifest = {
        schemaVersion: 2,
        mediaType: MediaTypes.ociManifest,
        config: { mediaType: MediaTypes.ociConfig, digest: configBlob.digest, size: configBlob.size },
        layers: busybox.manifest.layers,
      };
      const manifestBlob = await writeBlob(encodeJson(manifest));
      records.push({ id: configBlob.digest, target: { mediaType: MediaTypes.ociManifest, ...manifestBlob }, references: imageReferences(manifest, config), name: `bench/img-${i}:latest` });
    }
    await metadata.update((tx) => {
      for (const r of records) {
        tx.putImage({ id: r.id, target: r.target, references: r.references, registeredAt: new Date().toISOString() });
        tx.setRef(parseNormalizedNamed(r.name), r.id);
      }
    });
  }
  await metadata.close();

  const store = new ContainerStore(path.join(dataRoot, 'containers'), { durable: false });
  await store.init();
  const containerIds: string[] = [];
  for (let i = 0; i < containers; i++) {
    const id = newContainerId();
    containerIds.push(id);
    await store.save({
      Id: id,
      Name: `/bench-${i}`,
      Created: new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString(),
      ImageName: 'busybox',
      ImageId: busybox.id,
      ImageChainId: busybox.chainId,
      Path: 'sh',
      Args: ['-c', `echo ${i}`],
      Config: { Hostname: id.slice(0, 12), Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh', '-c', `echo ${i}`], Image: 'busybox', Labels: { 'bench.n': String(i) } },
      HostConfig: { NetworkMode: 'none', RestartPolicy: { Name: 'no', MaximumRetryCount: 0 } },
      State: { ...newContainerState(), Status: 'exited', ExitCode: 0, StartedAt: '2024-01-01T00:00:00Z', FinishedAt: '2024-01-01T00:00:01Z' },
      RestartCount: 0,
    });
  }
  await store.close();
  return { containerIds };
}

export async function benchMetadataScale(ctx: BenchContext): Promise<BenchRow[]> {
  const images = envInt('BENCH_IMAGES', 10_000);
  const containers = envInt('BENCH_CONTAINERS', 2_000);
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'bm-'));
  const dataRoot = path.join(root, 'data');
  const execRoot = path.join(root, 'x');
  const socket = path.join(execRoot, 'berth.sock');
  const archive = await ctx.berth.saveImage('busybox');
  const generatedAt = nowMs();
  const { containerIds } = await generate(dataRoot, archive, images, containers);
  process.stderr.write(`  generated ${images} images and ${containers} containers in ${((nowMs() - generatedAt) / 1000).toFixed(1)} s\n`);

  const logFile = path.join(root, 'berthd.log');
  const api = new EngineApi(socket);
  let child: ChildProcess | undefined;
  const netns = await createPrivateNetns();
  /** Starts berthd on the root and waits for its answer; returns the time that took. */
  const startDaemon = async (): Promise<number> => {
    const log = await fs.open(logFile, 'a');
    const startedAt = nowMs();
    // In a namespace of its own, as every bench daemon: even with --bridge none, its start-up sweep reads and prunes berth's chains.
    const command = netns.command(process.execPath, [DAEMON_MAIN, '--data-root', dataRoot, '--exec-root', execRoot, '--host', `unix://${socket}`, '--log-level', 'info', '--bridge', 'none']);
    const started = spawn(command.file, command.args, { stdio: ['ignore', log.fd, log.fd] });
    child = started;
    await log.close();
    for (const deadline = Date.now() + 180_000; ; ) {
      if (started.exitCode !== null) throw new Error(`berthd exited: ${await fs.readFile(logFile, 'utf8')}`);
      if ((await api.request('GET', '/_ping').catch(() => ({ status: 0 }))).status === 200) return nowMs() - startedAt;
      if (Date.now() > deadline) throw new Error(`berthd did not answer: ${await fs.readFile(logFile, 'utf8')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const stopDaemon = async (): Promise<void> => {
    const running = child;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    running.kill('SIGTERM');
    await exited;
  };
  try {
    // The first start does the one-time work on a root (the content file-mode walk); the restart is every later start.
    const firstStartMs = await startDaemon();
    await stopDaemon();
    const startupMs = await startDaemon();
    // The first listing after a start reads and parses every image's manifest and config.
    const firstListAt = nowMs();
    const firstList = await api.request('GET', '/images/json');
    const firstListMs = nowMs() - firstListAt;
    if (firstList.status !== 200) throw new Error(`GET /images/json: ${firstList.status}`);
    const ok = async (p: string, count?: number) => {
      const res = await api.request('GET', p);
      if (res.status !== 200) throw new Error(`GET ${p}: ${res.status} ${res.body.slice(0, 200)}`);
      if (count !== undefined) {
        const n = (JSON.parse(res.body) as unknown[]).length;
        if (n !== count) throw new Error(`GET ${p}: ${n} entries, expected ${count}`);
      }
    };
    let k = 0;
    const pick = (n: number) => (k = (k * 7919 + 13) % n);
    const rows: BenchRow[] = [];
    const row = async (name: string, fn: () => Promise<void>) => {
      const times = await sample(ctx.runs, ctx.warmups, fn);
      rows.push({ benchmark: name, unit: 'ms', berth: median(times), target: TARGET_MS });
    };
    // The answers are checked once; the timed runs take the whole body but do not parse it (client work).
    await ok('/images/json', images + 1); // busybox itself is one more image
    await ok('/containers/json?all=1', containers);
    await row(`images (${images} images)`, () => ok('/images/json'));
    await row(`image inspect (${images} images)`, () => ok(`/images/bench/img-${pick(images)}:latest/json`));
    await row(`ps -a (${containers} containers)`, () => ok('/containers/json?all=1'));
    await row(`container inspect (${containers} containers)`, () => ok(`/containers/${containerIds[pick(containers)]}/json`));
    rows.push({ benchmark: `images, first after start (${images} images)`, unit: 'ms', berth: firstListMs });
    rows.push({ benchmark: `daemon first start on the root (${images} images, ${containers} containers)`, unit: 'ms', berth: firstStartMs });
    rows.push({ benchmark: `daemon restart (${images} images, ${containers} containers)`, unit: 'ms', berth: startupMs });
    return rows;
  } finally {
    api.close();
    await stopDaemon();
    await netns.close();
    await unmountUnder(root);
    await fs.rm(root, { recursive: true, force: true });
  }
}
