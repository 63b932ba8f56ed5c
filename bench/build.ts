import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLI_MAIN } from './lib/berth-target';
import { mustRun } from './lib/proc';
import { median, nowMs } from './lib/stats';
import type { BenchRow } from './lib/report';
import type { BenchContext } from './context';

/** Debian's docker 20.10 client with the classic builder, as the issue measured docker. */
const DOCKER_20 = '/usr/bin/docker';
const SMALL_FILES = 2000;
const SMALL_FILE_BYTES = 20 * 1024;
const BIG_FILE_BYTES = 60 * 1024 * 1024;

const DOCKERFILE = `FROM busybox
ENV APP_HOME=/app
WORKDIR /app
COPY big.bin /app/big.bin
COPY files /app/files
RUN ls /app/files | wc -l > /app/count
RUN cat /app/count && du -s /app
CMD ["sh"]
`;

/** The context: a 60 MB random file and 2,000 small text files (about 100 MB in all). */
async function makeContext(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-build-'));
  await fs.writeFile(path.join(dir, 'Dockerfile'), DOCKERFILE);
  await fs.writeFile(path.join(dir, 'big.bin'), randomBytes(BIG_FILE_BYTES));
  await fs.mkdir(path.join(dir, 'files'));
  const line = 'the quick brown fox jumps over the lazy dog 0123456789\n';
  const text = line.repeat(Math.ceil(SMALL_FILE_BYTES / line.length)).slice(0, SMALL_FILE_BYTES);
  for (let i = 0; i < SMALL_FILES; i++) await fs.writeFile(path.join(dir, 'files', `f${i}.txt`), `${i}\n${text}`);
  return dir;
}

interface Builder {
  name: 'berth' | 'docker';
  build(args: string[]): Promise<void>;
  rmi(ref: string): Promise<void>;
  /** Before a cold build: whatever the engine keeps from earlier builds is gone (and checked). */
  makeCold(): Promise<void>;
}

/**
 * berth's cold start: the build cache pruned, berthd restarted (its in-memory digests of the
 * local context's files go with the process), then checked: no cache entry, no result image.
 */
async function makeBerthCold(ctx: BenchContext, ref: string): Promise<void> {
  const pruned = await ctx.berth.api.request('POST', '/build/prune?all=1');
  if (pruned.status !== 200) throw new Error(`build prune: ${pruned.status} ${pruned.body}`);
  await ctx.berth.restart();
  const df = JSON.parse((await ctx.berth.api.request('GET', '/system/df')).body) as { BuildCache?: unknown[] };
  if ((df.BuildCache ?? []).length !== 0) throw new Error(`the build cache is not empty after a prune: ${JSON.stringify(df.BuildCache)}`);
  const image = await ctx.berth.api.request('GET', `/images/${ref}/json`);
  if (image.status !== 404) throw new Error(`${ref} is still in the image store (${image.status})`);
}

/**
 * `berth build` against berthd and `docker build` (20.10's classic builder, DOCKER_BUILDKIT=0)
 * against a private dockerd, the same context and Dockerfile, runs interleaved so machine load
 * hits both alike: a cold build (`--no-cache`, the image removed after each run; for berth also
 * the build cache pruned and berthd restarted before it, so nothing from an earlier run is in
 * memory, the first RUN included), a rebuild
 * with no change (all cache hits), and a rebuild after one small file changed (the COPY of the
 * folder and everything after it rerun). Medians; the CLIs' start-up is included, as a user sees it.
 */
export async function benchBuild(ctx: BenchContext): Promise<BenchRow[]> {
  const dir = await makeContext();
  const builders: Builder[] = [
    {
      name: 'berth',
      build: async (args) => void (await mustRun(CLI_MAIN, ['-H', `unix://${ctx.berth.socket}`, 'build', '-q', ...args, dir])),
      rmi: async (ref) => void (await mustRun(CLI_MAIN, ['-H', `unix://${ctx.berth.socket}`, 'rmi', ref])),
      makeCold: () => makeBerthCold(ctx, 'bench-build:cold'),
    },
  ];
  if (ctx.docker) {
    const env = { DOCKER_CONFIG: '/nonexistent-docker-config', DOCKER_BUILDKIT: '0' };
    const host = `unix://${ctx.docker.socket}`;
    builders.push({
      name: 'docker',
      build: async (args) => void (await mustRun(DOCKER_20, ['-H', host, 'build', '-q', ...args, dir], { env })),
      rmi: async (ref) => void (await mustRun(DOCKER_20, ['-H', host, 'rmi', ref], { env })),
      // The classic builder's cache is its intermediate images (rmi removes them) and it keeps
      // no file digests between builds: every build tarsums the context it is sent.
      makeCold: async () => undefined,
    });
  }
  const runs = Math.max(3, Math.floor(ctx.runs / 4));
  const times: Record<string, Record<string, number[]>> = { cold: {}, nochange: {}, onefile: {} };
  const time = async (kind: string, b: Builder, fn: () => Promise<void>) => {
    const start = nowMs();
    await fn();
    ((times[kind]![b.name] ??= [])).push(nowMs() - start);
  };
  try {
    for (let i = 0; i < runs; i++) {
      for (const b of builders) {
        await b.makeCold();
        await time('cold', b, () => b.build(['--no-cache', '-t', 'bench-build:cold']));
        await b.rmi('bench-build:cold');
      }
    }
    for (const b of builders) await b.build(['-t', 'bench-build:warm']); // seeds the cache
    for (let i = 0; i < runs; i++) {
      for (const b of builders) await time('nochange', b, () => b.build(['-t', 'bench-build:warm']));
    }
    for (let i = 0; i < runs; i++) {
      await fs.writeFile(path.join(dir, 'files', 'f7.txt'), `changed ${i} ${Date.now()}\n`);
      for (const b of builders) await time('onefile', b, () => b.build(['-t', 'bench-build:warm']));
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
  const row = (kind: string, label: string, target?: number): BenchRow => ({
    benchmark: `build, 100 MB context: ${label} (CLI)`,
    unit: 'ms',
    berth: median(times[kind]!.berth ?? []),
    docker: times[kind]!.docker ? median(times[kind]!.docker!) : undefined,
    target,
  });
  return [row('cold', 'cold (--no-cache)', 3000), row('nochange', 'no-change rebuild', 250), row('onefile', 'one small file changed')];
}
