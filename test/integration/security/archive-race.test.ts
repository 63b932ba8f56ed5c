import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { apiRequest, bootstrapBusybox, needsRoot, startTestDaemon, TestDaemon } from '../../helpers/test-daemon';
import { waitFor } from '../../helpers/wait';
import { tarBuffer } from '../../../src/archive/tar/test-tar';

const skip = needsRoot('needs root (runc, overlay mounts)');

/**
 * CVE-2018-15664: a container swaps a path between something of its own and a symlink to
 * a host path while the daemon reads or writes that path. Every archive operation must stay
 * inside the container: no host byte in what comes out, no host file written or changed.
 */
const TRIES = Number(process.env.BERTH_RACE_TRIES ?? 200);
/** What the container writes: longer than the canary's detectable prefix, so a leak shows it. */
const INNER = 'i'.repeat(40);
/** Parallel swap loops per racing container. */
const LOOPS = Number(process.env.BERTH_RACE_LOOPS ?? 3);
const HUGE = 2 ** 40;

interface Reply {
  status: number;
  body: Buffer;
  headers: http.IncomingHttpHeaders;
  /** The response broke off mid-body (a stream error after the headers); body holds what came. */
  aborted: boolean;
}

/** One request; a body cut short is returned (and searched for leaks) rather than thrown away. */
function request(socket: string, method: string, urlPath: string, body?: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = body ? { 'Content-Type': 'application/x-tar', 'Content-Length': body.length } : {};
    const req = http.request({ socketPath: socket, method, path: urlPath, headers }, (res) => {
      const chunks: Buffer[] = [];
      const done = (aborted: boolean) => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers, aborted });
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done(false));
      res.on('error', () => done(true));
      res.on('aborted', () => done(true));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A host file's identity and content, to prove it was neither read into an archive nor changed. */
async function fingerprint(file: string): Promise<string> {
  const st = await fs.lstat(file);
  return `${st.mode} ${st.uid}:${st.gid} ${st.mtimeMs} ${st.nlink} ${(await fs.readFile(file)).toString('hex')}`;
}

describe('archive operations cannot be raced out of the container (CVE-2018-15664)', { skip }, () => {
  let daemon: TestDaemon;
  /** A host-only file: the container swaps /d/f between its own file and a symlink to it. */
  let hostFile: string;
  /** A host-only directory: the container swaps /e/x between its own directory and a symlink to it. */
  let hostDir: string;
  /** A host-only directory that /race/d is swapped to, for the write race. */
  let writeDir: string;
  /** Distinct per run, so a leak cannot be a coincidence. */
  const fileCanary = `HOSTFILE-${randomBytes(24).toString('hex')}\n`;
  const dirCanary = `HOSTDIR-${randomBytes(24).toString('hex')}\n`;
  const hostOnlyName = `host-only-${randomBytes(6).toString('hex')}`;
  let fingerprints: Map<string, string>;
  /** The daemon's open fds once set up: every fd the archive code opens must be closed again. */
  let fdsAtStart: number;
  const daemonFds = async () => (await fs.readdir(`/proc/${daemon.process.pid}/fd`)).length;

  const leaks = (bytes: Buffer): string[] => {
    const found: string[] = [];
    // A leak through a size taken from the container's file reads only that many host bytes.
    if (bytes.includes(fileCanary.slice(0, 20))) found.push('host file bytes');
    if (bytes.includes(dirCanary.slice(0, 20))) found.push('host directory file bytes');
    if (bytes.includes(hostOnlyName)) found.push('host directory entry name');
    return found;
  };

  const run = async (name: string, script: string): Promise<void> => {
    const create = await apiRequest(daemon.socket, 'POST', `/containers/create?name=${name}`, { Image: 'busybox', Cmd: ['sh', '-c', script] });
    assert.equal(create.status, 201, create.body);
    const start = await apiRequest(daemon.socket, 'POST', `/containers/${name}/start`);
    assert.equal(start.status, 204, start.body);
  };

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
    const host = await fs.mkdtemp(path.join(daemon.root, 'host-'));
    hostFile = path.join(host, 'canary');
    await fs.writeFile(hostFile, fileCanary, { mode: 0o640 });
    hostDir = path.join(host, 'canary-dir');
    await fs.mkdir(hostDir, { mode: 0o750 });
    await fs.writeFile(path.join(hostDir, 'secret'), dirCanary, { mode: 0o640 });
    await fs.writeFile(path.join(hostDir, hostOnlyName), dirCanary, { mode: 0o600 });
    // A sparse host file of 1 TiB apparent size: a size walk that follows the swap counts it.
    await fs.writeFile(path.join(hostDir, 'huge'), '');
    await fs.truncate(path.join(hostDir, 'huge'), HUGE);
    writeDir = path.join(host, 'write-target');
    await fs.mkdir(writeDir, { mode: 0o700 });
    await fs.writeFile(path.join(writeDir, 'victim'), 'host victim\n', { mode: 0o600 });
    fingerprints = new Map();
    for (const file of [hostFile, path.join(hostDir, 'secret'), path.join(hostDir, hostOnlyName), path.join(writeDir, 'victim')]) {
      fingerprints.set(file, await fingerprint(file));
    }

    // The swappers of the issue: a file/symlink one and a directory/symlink one, each in
    // LOOPS parallel copies on their own names, so more of each try races.
    const parallel = (loop: (k: number) => string) => `${Array.from({ length: LOOPS }, (_, k) => `(${loop(k + 1)}) &`).join(' ')} wait`;
    await run('file-swapper', `mkdir -p /d; ${parallel((k) => `while :; do echo ${INNER} > /d/f${k}.tmp; mv /d/f${k}.tmp /d/f${k}; ln -sfn ${hostFile} /d/f${k}.l; mv /d/f${k}.l /d/f${k}; done`)}`);
    await run(
      'dir-swapper',
      `mkdir -p /e; ${parallel((k) => `while :; do rm -rf /e/x${k}; mkdir /e/x${k}; echo ${INNER} > /e/x${k}/secret; echo ${INNER} > /e/x${k}/${hostOnlyName.slice(0, 4)}; rm -rf /e/x${k}; ln -s ${hostDir} /e/x${k}; done`)}`,
    );
    fdsAtStart = await daemonFds();
    await run('write-swapper', `mkdir -p /race; while :; do rm -rf /race/d; mkdir /race/d; rm -rf /race/d; ln -s ${writeDir} /race/d; done`);
  });

  after(async () => {
    await daemon?.stop();
  });

  /** Nothing on the host changed and nothing appeared in the write target. */
  const assertHostUntouched = async (): Promise<void> => {
    for (const [file, before] of fingerprints) assert.equal(await fingerprint(file), before, `${file} changed`);
    assert.deepEqual(await fs.readdir(writeDir), ['victim'], 'files were written into a host directory');
  };

  interface Outcome {
    leaks: string[];
    /** A 5xx or a response cut short: not a leak, but the race must not break the operation either. */
    error?: string;
  }

  const outcomeOf = (res: Reply, okStatuses: number[], body = res.body): Outcome => {
    const out: Outcome = { leaks: leaks(body) };
    if (res.aborted) out.error = `${res.status} response cut short`;
    else if (!okStatuses.includes(res.status)) out.error = `${res.status} ${res.body.toString().slice(0, 200)}`;
    return out;
  };

  /** Runs `attempt` TRIES times: no try may leak, and none may fail. */
  const hold = async (t: { diagnostic(msg: string): void }, what: string, attempt: (i: number) => Promise<Outcome>): Promise<void> => {
    const leaked: string[] = [];
    const errors: string[] = [];
    for (let i = 0; i < TRIES; i++) {
      const outcome = await attempt(i);
      for (const leak of outcome.leaks) leaked.push(`try ${i}: ${leak}`);
      if (outcome.error) errors.push(`try ${i}: ${outcome.error}`);
    }
    t.diagnostic(`${what}: ${leaked.length} leaks and ${errors.length} failed requests in ${TRIES} tries`);
    assert.deepEqual(leaked, [], `${what} leaked host data`);
    await assertHostUntouched();
    assert.deepEqual(errors.slice(0, 5), [], `${what} failed ${errors.length} times under the race`);
  };

  it('GET archive (cp out) never packs host bytes', async (t) => {
    let archived = 0;
    await hold(t, 'GET /containers/{id}/archive', async (i) => {
      const p = i % 2 === 0 ? '/d' : '/e';
      const res = await request(daemon.socket, 'GET', `/containers/${i % 2 === 0 ? 'file' : 'dir'}-swapper/archive?path=${p}`);
      if (res.status === 200 && !res.aborted) archived++;
      return outcomeOf(res, [200]);
    });
    assert.ok(archived > TRIES / 2, `only ${archived} of ${TRIES} archives were made`);
  });

  it('HEAD archive (stat) never reports a host file', async (t) => {
    const hostSizes = new Set([fileCanary.length, dirCanary.length]);
    await hold(t, 'HEAD /containers/{id}/archive', async (i) => {
      const k = ((i >> 1) % LOOPS) + 1;
      const [name, p] = i % 2 === 0 ? ['file-swapper', `/d/f${k}`] : ['dir-swapper', `/e/x${k}/secret`];
      const res = await request(daemon.socket, 'HEAD', `/containers/${name}/archive?path=${p}`);
      const out = outcomeOf(res, [200, 404]);
      if (res.status === 200) {
        const stat = JSON.parse(Buffer.from(String(res.headers['x-docker-container-path-stat']), 'base64').toString()) as { size: number; linkTarget: string };
        // A symlink's own size is its target's length, which can equal a canary's: only regular files count.
        if (stat.linkTarget === '' && hostSizes.has(stat.size)) out.leaks.push(`host file stat (size ${stat.size})`);
      }
      return out;
    });
  });

  it('export never packs host bytes', async (t) => {
    await hold(t, 'export', async (i) => {
      const res = await request(daemon.socket, 'GET', `/containers/${i % 2 === 0 ? 'file' : 'dir'}-swapper/export`);
      return outcomeOf(res, [200]);
    });
  });

  it('diff (changes) never lists host names', async (t) => {
    await hold(t, 'diff', async () => {
      const res = await request(daemon.socket, 'GET', `/containers/dir-swapper/changes`);
      return outcomeOf(res, [200]);
    });
  });

  /**
   * The committed image's top layer. Layers are stored uncompressed, so the blob of its last
   * diff ID is the layer tar; reading it is much cheaper than saving the whole image, which
   * is the fallback should the content store's layout change.
   */
  const committedLayer = async (ref: string): Promise<Reply> => {
    const inspect = await request(daemon.socket, 'GET', `/images/${ref}/json`);
    assert.equal(inspect.status, 200, inspect.body.toString());
    const diffIds = (JSON.parse(inspect.body.toString()) as { RootFS: { Layers: string[] } }).RootFS.Layers;
    const hex = diffIds[diffIds.length - 1].replace(/^sha256:/, '');
    const blob = await fs.readFile(path.join(daemon.dataRoot, 'content', 'blobs', 'sha256', hex)).catch(() => undefined);
    if (blob) return { status: 200, body: blob, headers: {}, aborted: false };
    return request(daemon.socket, 'GET', `/images/${ref}/get`);
  };

  it("commit's read of the RW layer never packs host bytes", async (t) => {
    await hold(t, 'commit', async (i) => {
      const name = i % 2 === 0 ? 'file-swapper' : 'dir-swapper';
      const commit = await request(daemon.socket, 'POST', `/commit?container=${name}&repo=race&tag=t${i}&pause=0`);
      if (commit.status !== 201) return outcomeOf(commit, [201]);
      return outcomeOf(await committedLayer(`race:t${i}`), [200]);
    });
  });

  it('the RW layer size (inspect --size) never counts host files', async (t) => {
    await hold(t, 'inspect size', async () => {
      const res = await request(daemon.socket, 'GET', `/containers/dir-swapper/json?size=1`);
      const out = outcomeOf(res, [200]);
      if (res.status === 200 && (JSON.parse(res.body.toString()) as { SizeRw: number }).SizeRw >= HUGE) out.leaks.push('a host file was counted');
      return out;
    });
  });

  it('PUT archive (cp in) never writes onto the host', async (t) => {
    let extracted = 0;
    const seen = new Set<string>();
    await hold(t, 'PUT /containers/{id}/archive', async (i) => {
      const tar = tarBuffer([
        { name: `pwned-${i}`, body: 'x', mode: 0o777 },
        { name: 'victim', body: 'overwritten', mode: 0o777 },
        { name: 'sub/', type: 'directory', mode: 0o777 },
        { name: 'sub/pwned', body: 'y' },
        { name: 'lnk', type: 'symlink', linkname: '/' },
      ]);
      const res = await request(daemon.socket, 'PUT', `/containers/write-swapper/archive?path=/race/d`, tar);
      if (res.status === 200) extracted++;
      // 404: /race/d was the symlink, whose target does not exist in the container;
      // 409: the container removed /race/d, or swapped a directory in it, while it was being extracted into;
      // 400 "cannot create directory": it was removed before a subdirectory could be made in it.
      const refusedMkdir = res.status === 400 && res.body.toString().includes('cannot create directory');
      const out = outcomeOf(res, refusedMkdir ? [400] : [200, 404, 409]);
      // Each leak is reported once, by the try that caused it.
      const found = (await fs.readdir(writeDir)).filter((n) => n !== 'victim').map((n) => `host file ${n} written`);
      if ((await fingerprint(path.join(writeDir, 'victim')).catch(() => 'gone')) !== fingerprints.get(path.join(writeDir, 'victim'))) {
        found.push('host victim changed');
      }
      out.leaks = found.filter((leak) => !seen.has(leak));
      for (const leak of found) seen.add(leak);
      return out;
    });
    t.diagnostic(`${extracted} of ${TRIES} extractions went through`);
    assert.ok(extracted > 0, 'no extraction ever succeeded, so the race was never run');
  });

  it('no fd is left open by the archive operations', async (t) => {
    // Over 1,400 operations above; a leak per operation (or per entry) would show by hundreds.
    await waitFor(async () => (await daemonFds()) <= fdsAtStart + 16, 10_000, `daemon fds back near ${fdsAtStart}`);
    t.diagnostic(`daemon fds: ${fdsAtStart} after setup, ${await daemonFds()} after the races`);
  });

  it('the swappers were really swapping', async () => {
    // Each swapper is still alive and its path takes both shapes.
    for (const [name, p] of [
      ['file-swapper', '/d/f1'],
      ['dir-swapper', '/e/x1'],
    ]) {
      const kinds = new Set<string>();
      await waitFor(async () => {
        const res = await request(daemon.socket, 'HEAD', `/containers/${name}/archive?path=${p}`);
        if (res.status === 200) {
          const stat = JSON.parse(Buffer.from(String(res.headers['x-docker-container-path-stat']), 'base64').toString()) as { linkTarget: string };
          kinds.add(stat.linkTarget === '' ? 'own' : 'symlink');
        }
        return kinds.size === 2;
      }, 20_000, `${name} swapping`);
    }
  });
});
