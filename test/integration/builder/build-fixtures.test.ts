import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { copyImage, exportedFiles } from './helpers';
import { contextTar, postBuild, type ContextEntry } from '../../helpers/build-context';
import { privateDockerdSkipReason, startPrivateDockerd, type PrivateDockerd } from '../../helpers/private-dockerd';
import { apiRequest, bootstrapBusybox, needsRoot, REPO_ROOT, startTestDaemon, type TestDaemon } from '../../helpers/test-daemon';

/**
 * The executor's fixture corpus: test/fixtures/dockerfile/executor/<case>/ holds a Dockerfile, its
 * context (context/, with modes and symlinks git cannot keep in build.json), and what the
 * build must give: expected-config.json (the config fields a Dockerfile sets and, for recorded
 * cases, the history) and expected-tree.txt (every path the build adds or changes over the
 * busybox base: type, mode, uid:gid, size, link target; or "removed"). Each case is built on a
 * berth daemon through POST /build and compared.
 *
 * Expectations come from dockerd 20.10's classic builder: `BERTH_RECORD_BUILD_FIXTURES=1`
 * builds every case not marked `handWritten` on a private dockerd (the same busybox, berth's,
 * loaded into it) and writes them. Cases of forms the classic builder refuses (BuildKit's) are
 * marked `handWritten`: their expectations were written from BuildKit's documented behaviour.
 */
const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'dockerfile', 'executor');
const RECORD = process.env.BERTH_RECORD_BUILD_FIXTURES === '1';
const skip = needsRoot('needs root') || (RECORD ? privateDockerdSkipReason() || false : false);
const CONFIG_FIELDS = ['Env', 'Cmd', 'Entrypoint', 'WorkingDir', 'User', 'ExposedPorts', 'Volumes', 'Labels', 'Healthcheck', 'StopSignal', 'Shell', 'OnBuild'] as const;

interface FixtureCase {
  name: string;
  dir: string;
  buildargs?: Record<string, string>;
  modes?: Record<string, string>;
  symlinks?: Record<string, string>;
  handWritten?: boolean;
}

async function loadCases(): Promise<FixtureCase[]> {
  const names = (await fs.readdir(FIXTURES)).sort();
  const cases: FixtureCase[] = [];
  for (const name of names) {
    const dir = path.join(FIXTURES, name);
    const spec = JSON.parse(await fs.readFile(path.join(dir, 'build.json'), 'utf8')) as Omit<FixtureCase, 'name' | 'dir'>;
    cases.push({ name, dir, ...spec });
  }
  return cases;
}

/** The case's context as the tar a client sends: Dockerfile, then context/ sorted, modes as build.json says. */
async function caseTar(c: FixtureCase): Promise<Buffer> {
  const entries: ContextEntry[] = [{ name: 'Dockerfile', content: await fs.readFile(path.join(c.dir, 'Dockerfile')) }];
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await fs.readdir(path.join(c.dir, 'context', rel))).sort()) {
      const relPath = rel === '' ? name : `${rel}/${name}`;
      const full = path.join(c.dir, 'context', relPath);
      const st = await fs.lstat(full);
      const mode = c.modes?.[relPath] !== undefined ? parseInt(c.modes[relPath]!, 8) : st.mode & 0o777;
      if (st.isDirectory()) {
        entries.push({ name: relPath, type: 'directory', mode });
        await walk(relPath);
      } else entries.push({ name: relPath, content: await fs.readFile(full), mode });
    }
  };
  if (existsSync(path.join(c.dir, 'context'))) await walk('');
  for (const [name, target] of Object.entries(c.symlinks ?? {})) entries.push({ name, type: 'symlink', linkname: target, mode: 0o777 });
  return contextTar(entries);
}

/**
 * The config fields a Dockerfile sets, MAINTAINER's Author, and the history the build added
 * (without dates and IDs; the base's entries name the machine's busybox and are left out).
 */
async function describeImage(socket: string, ref: string): Promise<Record<string, unknown>> {
  const base = JSON.parse((await apiRequest(socket, 'GET', '/images/busybox/history')).body) as unknown[];
  const inspect = JSON.parse((await apiRequest(socket, 'GET', `/images/${ref}/json`)).body) as { Author: string; Config: Record<string, unknown> };
  const config: Record<string, unknown> = { Author: inspect.Author };
  for (const f of CONFIG_FIELDS) config[f] = inspect.Config[f] ?? null;
  const history = JSON.parse((await apiRequest(socket, 'GET', `/images/${ref}/history`)).body) as Array<{ CreatedBy: string; Size: number }>;
  return { config, history: history.reverse().slice(base.length).map((h) => ({ created_by: h.CreatedBy, empty_layer: h.Size === 0 })) };
}

/** path → "type mode uid:gid size link" of an image's file system (a container's export), minus what runtimes add. */
async function listFiles(socket: string, ref: string): Promise<Map<string, string>> {
  return exportedFiles(socket, ref, (h) => `${h.type} ${((h.mode ?? 0) & 0o7777).toString(8).padStart(4, '0')} ${h.uid}:${h.gid} ${h.type === 'file' ? h.size : '-'}${h.linkname ? ` -> ${h.linkname}` : ''}`);
}

/** The lines of expected-tree.txt: what `built` adds or changes over `base`, sorted by path. */
function treeLines(base: Map<string, string>, built: Map<string, string>): string[] {
  const lines: string[] = [];
  for (const [p, line] of built) if (base.get(p) !== line) lines.push(`${p} ${line}`);
  for (const p of base.keys()) if (!built.has(p)) lines.push(`${p} removed`);
  return lines.sort();
}

async function buildCase(socket: string, c: FixtureCase): Promise<string> {
  const tag = `fixture-${c.name}:1`;
  const query = `t=${tag}&rm=1${c.buildargs ? `&buildargs=${encodeURIComponent(JSON.stringify(c.buildargs))}` : ''}`;
  const res = await postBuild(socket, query, await caseTar(c));
  assert.equal(res.status, 200, res.body);
  const failed = res.messages.find((m) => m.errorDetail !== undefined);
  assert.equal(failed, undefined, `${c.name}: ${JSON.stringify(failed)}\n${res.messages.map((m) => m.stream ?? '').join('')}`);
  return tag;
}

describe('the executor fixture corpus (test/fixtures/dockerfile/executor)', { skip }, async () => {
  const cases = await loadCases();
  let daemon: TestDaemon;
  let dockerd: PrivateDockerd | undefined;
  let baseTree: Map<string, string>;
  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
    baseTree = await listFiles(daemon.socket, 'busybox');
    if (!RECORD) return;
    dockerd = await startPrivateDockerd();
    await copyImage(daemon.socket, dockerd.socket, 'busybox');
  });
  after(async () => {
    await daemon?.stop();
    await dockerd?.stop();
  });

  it('has a case for every instruction', async () => {
    const text = (await Promise.all(cases.map((c) => fs.readFile(path.join(c.dir, 'Dockerfile'), 'utf8')))).join('\n');
    for (const instruction of ['FROM', 'RUN', 'CMD', 'LABEL', 'MAINTAINER', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL']) {
      assert.match(text, new RegExp(`^${instruction} `, 'm'), instruction);
    }
    for (const form of ['$NAME', '${NAME}', '${NAME:-', '${NAME:+', '${EMPTY-', '${EMPTY+', '${ARCHIVE#', '${ARCHIVE##', '${ARCHIVE%', '${ARCHIVE%%']) assert.ok(text.includes(form), form);
  });

  for (const c of cases) {
    it(`${c.name}: the config and file tree ${c.handWritten ? 'BuildKit documents' : 'dockerd 20.10 gives'}`, async () => {
      if (RECORD && !c.handWritten) {
        const tag = await buildCase(dockerd!.socket, c);
        const described = await describeImage(dockerd!.socket, tag);
        await fs.writeFile(path.join(c.dir, 'expected-config.json'), `${JSON.stringify(described, null, 2)}\n`);
        const dockerBase = await listFiles(dockerd!.socket, 'busybox');
        await fs.writeFile(path.join(c.dir, 'expected-tree.txt'), `${treeLines(dockerBase, await listFiles(dockerd!.socket, tag)).join('\n')}\n`);
      }
      const expectedConfig = JSON.parse(await fs.readFile(path.join(c.dir, 'expected-config.json'), 'utf8')) as { config: Record<string, unknown>; history?: unknown };
      const expectedTree = (await fs.readFile(path.join(c.dir, 'expected-tree.txt'), 'utf8')).split('\n').filter((l) => l !== '');
      const tag = await buildCase(daemon.socket, c);
      const got = await describeImage(daemon.socket, tag);
      assert.deepEqual(got.config, expectedConfig.config, 'config');
      assert.deepEqual(treeLines(baseTree, await listFiles(daemon.socket, tag)), expectedTree, 'file tree');
      if (expectedConfig.history !== undefined) assert.deepEqual(got.history, expectedConfig.history, 'history');
    });
  }
});
