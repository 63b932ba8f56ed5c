import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { apiRequest, bootstrapBusybox, needsRoot, startTestDaemon, TestDaemon } from '../helpers/test-daemon';
import { rssBytes } from '../helpers/processes';
import { waitFor } from '../helpers/wait';

const skip = needsRoot('needs root (runc, overlay mounts)');

/** Lines of 25 bytes: a 50 MB log is two million lines, which the old reader held at once. */
const LINE = 'abcdefghijklmnopqrstuvwx\n';
const HALF_BYTES = 25 * 1024 * 1024;
const HALF_LINES = HALF_BYTES / LINE.length;
/** Growth of the daemon's peak RSS allowed over the whole run (the old reader used gigabytes). */
const RSS_GROWTH_BOUND = 300 * 1024 * 1024;

interface LogsResult {
  stdoutLines: number;
  stderrLines: string[];
  /** The last lines of stdout (at most 20). */
  lastLines: string[];
  firstLine?: string;
}

/** GET /containers/{id}/logs, demultiplexed as it streams; only counts and a few lines are kept. */
function readLogs(socket: string, id: string, query: string, hooks: { onFirstChunk?: (res: http.IncomingMessage) => void } = {}): Promise<LogsResult> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, method: 'GET', path: `/containers/${id}/logs?${query}` }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`logs answered ${res.statusCode}`));
        res.resume();
        return;
      }
      const result: LogsResult = { stdoutLines: 0, stderrLines: [], lastLines: [] };
      let pending: Buffer = Buffer.alloc(0);
      const partial: string[] = ['', ''];
      let first = true;
      res.on('data', (chunk: Buffer) => {
        if (first) {
          first = false;
          hooks.onFirstChunk?.(res);
        }
        pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
        let at = 0;
        while (pending.length - at >= 8) {
          const size = pending.readUInt32BE(at + 4);
          if (pending.length - at - 8 < size) break;
          const stream = pending[at]!;
          const text = partial[stream - 1] + pending.subarray(at + 8, at + 8 + size).toString('latin1');
          const lines = text.split('\n');
          partial[stream - 1] = lines.pop()!;
          for (const line of lines) {
            if (stream === 2) {
              result.stderrLines.push(line);
              continue;
            }
            result.stdoutLines++;
            if (result.firstLine === undefined) result.firstLine = line;
            result.lastLines.push(line);
            if (result.lastLines.length > 20) result.lastLines.shift();
          }
          at += 8 + size;
        }
        pending = pending.subarray(at);
      });
      res.on('end', () => resolve(result));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

async function peakRssBytes(pid: number): Promise<number> {
  const status = await import('node:fs').then((fs) => fs.promises.readFile(`/proc/${pid}/status`, 'utf8'));
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)![1]) * 1024;
}

describe('logs of a 50 MB log with bounded daemon memory', { skip }, () => {
  let daemon: TestDaemon;
  let id: string;
  let boundary: number;
  let baseline: number;

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
    // Half the log, a pause around a printed second, the other half, then it lingers.
    const script = [
      `yes ${LINE.trim()} | head -c ${HALF_BYTES}`,
      'echo first-half-done >&2',
      'sleep 2',
      'date +%s >&2',
      'sleep 2',
      `yes ${LINE.trim()} | head -c ${HALF_BYTES}`,
      'echo second-half-done >&2',
      // Lingers until the test lets it finish (an exec creates /go), so -f has something to follow.
      'while [ ! -e /go ]; do sleep 0.1; done',
      'echo tail-end',
    ].join('; ');
    const created = await apiRequest(daemon.socket, 'POST', '/containers/create?name=chatty', { Image: 'busybox', Cmd: ['sh', '-c', script] });
    assert.equal(created.status, 201, created.body);
    id = (JSON.parse(created.body) as { Id: string }).Id;
    baseline = await rssBytes(daemon.process.pid!);
    assert.equal((await apiRequest(daemon.socket, 'POST', `/containers/${id}/start`)).status, 204);
    await waitFor(async () => (await readLogs(daemon.socket, id, 'stderr=1&tail=1')).stderrLines.includes('second-half-done'), 60_000, 'the container to write 50 MB');
    const stderr = (await readLogs(daemon.socket, id, 'stderr=1')).stderrLines;
    boundary = Number(stderr[1]);
    assert.ok(boundary > 1_600_000_000, `a unix time between the halves: ${stderr.join(',')}`);
  });
  after(async () => {
    await daemon?.stop();
  });

  /** Lets the container write its last line and exit (idempotent). */
  async function letItFinish(): Promise<void> {
    const state = async () => (JSON.parse((await apiRequest(daemon.socket, 'GET', `/containers/${id}/json`)).body) as { State: { Running: boolean } }).State;
    if (!(await state()).Running) return;
    const exec = await apiRequest(daemon.socket, 'POST', `/containers/${id}/exec`, { Cmd: ['touch', '/go'] });
    assert.equal(exec.status, 201, exec.body);
    const started = await apiRequest(daemon.socket, 'POST', `/exec/${(JSON.parse(exec.body) as { Id: string }).Id}/start`, { Detach: true });
    assert.equal(started.status, 200, started.body);
    await waitFor(async () => !(await state()).Running, 10_000, 'the container to exit');
  }

  it('--tail 10 answers the last lines; -f --tail follows to the end', async () => {
    const tail = await readLogs(daemon.socket, id, 'stdout=1&stderr=1&tail=10');
    assert.deepEqual(tail.stderrLines, ['second-half-done']);
    assert.equal(tail.stdoutLines, 9);
    assert.ok(tail.lastLines.every((l) => l === LINE.trim()));

    const following = readLogs(daemon.socket, id, 'stdout=1&stderr=1&tail=2&follow=1');
    await new Promise((r) => setTimeout(r, 500));
    await letItFinish();
    const followed = await following;
    assert.deepEqual(followed.stderrLines, ['second-half-done']);
    assert.deepEqual(followed.lastLines, [LINE.trim(), 'tail-end']);
  });

  it('a whole read, --since and --until count every line', async () => {
    await letItFinish();
    const all = await readLogs(daemon.socket, id, 'stdout=1&stderr=1');
    assert.equal(all.stdoutLines, 2 * HALF_LINES + 1);
    assert.deepEqual(all.stderrLines, ['first-half-done', String(boundary), 'second-half-done']);

    const since = await readLogs(daemon.socket, id, `stdout=1&stderr=1&since=${boundary}`);
    assert.equal(since.stdoutLines, HALF_LINES + 1);
    assert.deepEqual(since.stderrLines, [String(boundary), 'second-half-done']);

    const until = await readLogs(daemon.socket, id, `stdout=1&stderr=1&until=${boundary}`);
    assert.equal(until.stdoutLines, HALF_LINES);
    assert.deepEqual(until.stderrLines, ['first-half-done']);

    // As in Docker, tail counts the lines of both streams (stderr's last one among them).
    const sinceTail = await readLogs(daemon.socket, id, `stdout=1&tail=5&since=${boundary}`);
    assert.deepEqual(sinceTail.lastLines, [LINE.trim(), LINE.trim(), LINE.trim(), 'tail-end']);
    const untilTail = await readLogs(daemon.socket, id, `stdout=1&stderr=1&tail=5&until=${boundary}`);
    assert.equal(untilTail.stdoutLines, 0, 'the last lines are all after until');
  });

  it('a reader that stops reading gets backpressure: daemon memory stays flat', async () => {
    await letItFinish();
    // RSS while the reader pauses for 3 s after its first chunk: without backpressure the
    // daemon would go on reading the 50 MB log into the socket's buffer meanwhile.
    let paused: Promise<{ first: number; highest: number }> | undefined;
    const result = await readLogs(daemon.socket, id, 'stdout=1&stderr=1', {
      onFirstChunk: (res) => {
        res.pause();
        paused = (async () => {
          await new Promise((r) => setTimeout(r, 200));
          const first = await rssBytes(daemon.process.pid!);
          let highest = first;
          for (let i = 0; i < 28; i++) {
            await new Promise((r) => setTimeout(r, 100));
            highest = Math.max(highest, await rssBytes(daemon.process.pid!));
          }
          res.resume();
          return { first, highest };
        })();
      },
    });
    assert.equal(result.stdoutLines, 2 * HALF_LINES + 1);
    const { first, highest } = await paused!;
    assert.ok(highest - first < 20 * 1024 * 1024, `daemon RSS grew from ${Math.round(first / 2 ** 20)} MB to ${Math.round(highest / 2 ** 20)} MB while the reader paused`);
  });

  it('the daemon peak RSS stayed bounded over every read above', async () => {
    const peak = await peakRssBytes(daemon.process.pid!);
    assert.ok(peak - baseline < RSS_GROWTH_BOUND, `peak ${Math.round(peak / 2 ** 20)} MB, baseline ${Math.round(baseline / 2 ** 20)} MB`);
  });

  it('attach with logs=1&stream=1 replays the log, then streams live output after it', async () => {
    const created = await apiRequest(daemon.socket, 'POST', '/containers/create?name=replayed', {
      Image: 'busybox',
      Cmd: ['sh', '-c', 'echo one; echo err-one >&2; while [ ! -e /go ]; do sleep 0.1; done; echo two'],
    });
    assert.equal(created.status, 201, created.body);
    const other = (JSON.parse(created.body) as { Id: string }).Id;
    assert.equal((await apiRequest(daemon.socket, 'POST', `/containers/${other}/start`)).status, 204);
    await waitFor(async () => (await readLogs(daemon.socket, other, 'stdout=1')).stdoutLines === 1, 10_000, 'the first line');
    const frames: string[] = [];
    const attached = new Promise<void>((resolve, reject) => {
      const req = http.request({ socketPath: daemon.socket, method: 'POST', path: `/containers/${other}/attach?logs=1&stream=1&stdout=1&stderr=1` }, (res) => {
        let pending: Buffer = Buffer.alloc(0);
        res.on('data', (c: Buffer) => {
          pending = Buffer.concat([pending, c]);
          while (pending.length >= 8 && pending.length >= 8 + pending.readUInt32BE(4)) {
            const size = pending.readUInt32BE(4);
            frames.push(`${pending[0]}:${pending.subarray(8, 8 + size).toString()}`);
            pending = pending.subarray(8 + size);
          }
        });
        res.on('end', resolve);
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    await waitFor(() => frames.length >= 2, 10_000, 'the replay');
    const exec = await apiRequest(daemon.socket, 'POST', `/containers/${other}/exec`, { Cmd: ['touch', '/go'] });
    await apiRequest(daemon.socket, 'POST', `/exec/${(JSON.parse(exec.body) as { Id: string }).Id}/start`, { Detach: true });
    await attached;
    assert.deepEqual(frames.join('').split('\n').filter(Boolean).sort(), ['1:one', '1:two', '2:err-one'].sort());
    assert.equal(frames[frames.length - 1], '1:two\n', 'live output comes after the replay');
  });

  it('attach with logs=1 replays the whole log at the reader\'s pace', async () => {
    const replay = await new Promise<number>((resolve, reject) => {
      const req = http.request({ socketPath: daemon.socket, method: 'POST', path: `/containers/${id}/attach?logs=1&stdout=1&stderr=1&stream=0` }, (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => resolve(bytes));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    // Every payload byte plus an 8-byte frame header per line at least.
    assert.ok(replay > 2 * HALF_BYTES, `replayed ${replay} bytes`);
    const peak = await peakRssBytes(daemon.process.pid!);
    assert.ok(peak - baseline < RSS_GROWTH_BOUND, `peak ${Math.round(peak / 2 ** 20)} MB, baseline ${Math.round(baseline / 2 ** 20)} MB`);
  });
});
