import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as os from 'node:os';
import Docker from 'dockerode';
import { apiRequest, bootstrapBusybox, needsRoot, startTestDaemon, TestDaemon } from '../helpers/test-daemon';
import { berth, docker, DOCKER_CLIENTS } from '../helpers/cli';
import type { ContainerStatsResponse } from '../../src/api/types/containers';

const skip = needsRoot('needs root (runc, overlay mounts, cgroups)');
const MIB = 1024 * 1024;
const DOCKER_28 = DOCKER_CLIENTS.find((c) => c === '/usr/local/bin/docker');

/** "12.5MiB" → bytes (docker's binary units). */
function parseBinarySize(text: string): number {
  const match = /^([\d.]+)(B|KiB|MiB|GiB)$/.exec(text.trim());
  assert.ok(match, `not a size: ${text}`);
  const unit = { B: 1, KiB: 1024, MiB: MIB, GiB: 1024 * MIB }[match[2] as 'B' | 'KiB' | 'MiB' | 'GiB'];
  return Number(match[1]) * unit;
}

/** GET /containers/{id}/stats from the cgroups (v1 here), in dockerd's JSON shape, through real clients. */
describe('container stats', { skip }, () => {
  let daemon: TestDaemon;
  let client: Docker;

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
    client = new Docker({ socketPath: daemon.socket });
    // A busy one with a memory limit, writing 8 MB into its memory (tmpfs); an idle one without.
    await berthOk(['run', '-d', '--name', 'busy', '-m', '64m', '--network', 'none', '--tmpfs', '/fill', 'busybox', 'sh', '-c', 'head -c 8000000 /dev/zero > /fill/f; while :; do :; done']);
    await berthOk(['run', '-d', '--name', 'idle', 'busybox', 'sleep', '1000']);
    // Wait until the fill is charged to the cgroup.
    for (;;) {
      const out = await berthOk(['exec', 'busy', 'sh', '-c', 'wc -c < /fill/f']);
      if (out.trim() === '8000000') break;
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  after(async () => {
    await daemon?.stop();
  });

  async function berthOk(args: string[]): Promise<string> {
    const r = await berth(daemon.host, args);
    assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }

  it('dockerode stats({stream:false}): dockerd\'s shape, sane numbers, precpu from a second sample', async () => {
    const s = (await client.getContainer('busy').stats({ stream: false })) as unknown as ContainerStatsResponse;
    assert.equal(s.name, '/busy');
    assert.match(s.id, /^[0-9a-f]{64}$/);
    assert.ok(Date.parse(s.read) > Date.parse(s.preread), `read ${s.read} after preread ${s.preread}`);
    assert.ok(Date.parse(s.read) - Date.parse(s.preread) >= 900, 'about a second apart');
    assert.equal(s.memory_stats.limit, 64 * MIB);
    assert.ok((s.memory_stats.usage ?? 0) >= 8_000_000, `usage ${s.memory_stats.usage} holds the 8 MB in tmpfs`);
    assert.ok((s.memory_stats.max_usage ?? 0) >= (s.memory_stats.usage ?? 0));
    for (const key of ['cache', 'rss', 'total_inactive_file', 'shmem', 'hierarchical_memory_limit']) assert.equal(typeof s.memory_stats.stats?.[key], 'number', key);
    const cpu = s.cpu_stats.cpu_usage;
    assert.ok(cpu.total_usage > s.precpu_stats.cpu_usage.total_usage, 'the busy loop used CPU between the samples');
    assert.equal(cpu.percpu_usage?.length, os.cpus().length);
    assert.ok(cpu.usage_in_usermode > 0);
    assert.equal(typeof cpu.usage_in_kernelmode, 'number');
    assert.ok((s.cpu_stats.system_cpu_usage ?? 0) > (s.precpu_stats.system_cpu_usage ?? 0));
    assert.equal(s.cpu_stats.online_cpus, os.cpus().length);
    assert.deepEqual(Object.keys(s.cpu_stats.throttling_data).sort(), ['periods', 'throttled_periods', 'throttled_time']);
    assert.ok((s.pids_stats.current ?? 0) >= 1);
    assert.ok('io_service_bytes_recursive' in s.blkio_stats && 'sectors_recursive' in s.blkio_stats);
    assert.equal(s.networks, undefined, '--network none has no interface');

    // Without a limit, the machine's memory is the limit (as dockerd reports it).
    const idle = (await client.getContainer('idle').stats({ stream: false })) as unknown as ContainerStatsResponse;
    assert.equal(idle.memory_stats.limit, os.totalmem());
    assert.ok((idle.memory_stats.usage ?? 0) > 0);
  });

  it('dockerode stats stream: one sample a second, each carrying the previous in precpu_stats', async () => {
    const stream = (await client.getContainer('busy').stats({ stream: true })) as unknown as NodeJS.ReadableStream & { destroy(): void };
    const samples: ContainerStatsResponse[] = [];
    let buffered = '';
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          samples.push(JSON.parse(buffered.slice(0, newline)) as ContainerStatsResponse);
          buffered = buffered.slice(newline + 1);
        }
        if (samples.length >= 3) resolve();
      });
      stream.on('error', reject);
    });
    stream.destroy();
    assert.equal(samples[0]!.preread, '0001-01-01T00:00:00Z');
    assert.equal(samples[0]!.precpu_stats.cpu_usage.total_usage, 0);
    for (let i = 1; i < 3; i++) {
      assert.equal(samples[i]!.preread, samples[i - 1]!.read);
      assert.deepEqual(samples[i]!.precpu_stats, samples[i - 1]!.cpu_stats);
    }
  });

  it('one-shot answers at once without precpu; bad combinations and unknown containers are refused', async () => {
    const oneShot = await apiRequest(daemon.socket, 'GET', '/containers/busy/stats?stream=false&one-shot=true');
    assert.equal(oneShot.status, 200);
    const s = JSON.parse(oneShot.body) as ContainerStatsResponse;
    assert.equal(s.preread, '0001-01-01T00:00:00Z');
    assert.equal(s.precpu_stats.system_cpu_usage, undefined);
    assert.ok((s.memory_stats.usage ?? 0) > 0);

    const both = await apiRequest(daemon.socket, 'GET', '/containers/busy/stats?stream=true&one-shot=true');
    assert.equal(both.status, 400);
    assert.equal((JSON.parse(both.body) as { message: string }).message, 'cannot have stream=true and one-shot=true');
    const missing = await apiRequest(daemon.socket, 'GET', '/containers/nothere/stats?stream=false');
    assert.equal(missing.status, 404);
    assert.equal((JSON.parse(missing.body) as { message: string }).message, 'No such container: nothere');
  });

  it("networks: each interface of the container's namespace (not lo), counting real traffic, as the docker CLI sums it for NET I/O", async () => {
    await berthOk(['run', '-d', '--name', 'talker', 'busybox', 'sleep', '1000']);
    const gateway = (await berthOk(['inspect', '--format', '{{.NetworkSettings.Gateway}}', 'talker'])).trim();
    assert.match(gateway, /^\d+\.\d+\.\d+\.\d+$/);
    const before = JSON.parse((await apiRequest(daemon.socket, 'GET', '/containers/talker/stats?stream=false&one-shot=true')).body) as ContainerStatsResponse;
    assert.deepEqual(Object.keys(before.networks ?? {}), ['eth0']);
    assert.deepEqual(Object.keys(before.networks!.eth0!).sort(), ['rx_bytes', 'rx_dropped', 'rx_errors', 'rx_packets', 'tx_bytes', 'tx_dropped', 'tx_errors', 'tx_packets']);
    await berthOk(['exec', 'talker', 'ping', '-c', '3', '-s', '1000', gateway]);
    const after = JSON.parse((await apiRequest(daemon.socket, 'GET', '/containers/talker/stats?stream=false&one-shot=true')).body) as ContainerStatsResponse;
    const grew = (key: string) => after.networks!.eth0![key]! - before.networks!.eth0![key]!;
    assert.ok(grew('tx_packets') >= 3 && grew('rx_packets') >= 3, JSON.stringify(after.networks));
    assert.ok(grew('tx_bytes') >= 3000 && grew('rx_bytes') >= 3000, JSON.stringify(after.networks));
    const line = await berthOk(['stats', '--no-stream', '--format', '{{.NetIO}}', 'talker']);
    assert.doesNotMatch(line, /^0B \/ 0B/);
    await berthOk(['rm', '-f', 'talker']);
  });

  it('a stopped container answers with an empty sample, as dockerd does', async () => {
    await berthOk(['create', '--name', 'stopped', 'busybox', 'true']);
    const res = await apiRequest(daemon.socket, 'GET', '/containers/stopped/stats?stream=false');
    assert.equal(res.status, 200);
    const s = JSON.parse(res.body) as ContainerStatsResponse;
    assert.equal(s.read, '0001-01-01T00:00:00Z');
    assert.deepEqual(s.memory_stats, {});
    assert.deepEqual(s.pids_stats, {});
    assert.equal(s.name, '/stopped');
  });

  it('docker stats --no-stream (CLI 28) shows the limit and the usage', { skip: DOCKER_28 ? false : 'docker CLI 28 not installed' }, async () => {
    const r = await docker(DOCKER_28!, daemon.host, ['stats', '--no-stream', '--format', '{{json .}}', 'busy', 'idle']);
    assert.equal(r.code, 0, r.stderr);
    const rows = r.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, string>);
    const busy = rows.find((row) => row.Name === 'busy')!;
    const [used, limit] = busy.MemUsage!.split(' / ') as [string, string];
    assert.equal(limit, '64MiB');
    assert.ok(parseBinarySize(used) >= 8_000_000, busy.MemUsage);
    assert.ok(Number(busy.MemPerc!.replace('%', '')) > 10, busy.MemPerc);
    assert.ok(Number(busy.CPUPerc!.replace('%', '')) > 0, busy.CPUPerc);
    assert.equal(busy.NetIO, '0B / 0B');
    assert.ok(Number(busy.PIDs) >= 1);
    const idle = rows.find((row) => row.Name === 'idle')!;
    assert.equal(parseBinarySize(idle.MemUsage!.split(' / ')[1]!), parseBinarySize(formatMiB(os.totalmem())));
  });

  it('docker stats --no-stream (CLI 28): the memory figure grows when the container allocates', { skip: DOCKER_28 ? false : 'docker CLI 28 not installed' }, async () => {
    await berthOk(['run', '-d', '--name', 'grower', '-m', '128m', '--network', 'none', '--tmpfs', '/fill', 'busybox', 'sleep', '1000']);
    const usage = async () => {
      const r = await docker(DOCKER_28!, daemon.host, ['stats', '--no-stream', '--format', '{{.MemUsage}}', 'grower']);
      assert.equal(r.code, 0, r.stderr);
      return parseBinarySize(r.stdout.trim().split(' / ')[0]!);
    };
    try {
      const before = await usage();
      // 32 MB into its tmpfs: memory the container's cgroup is charged for.
      await berthOk(['exec', 'grower', 'sh', '-c', 'head -c 32000000 /dev/zero > /fill/f']);
      const after = await usage();
      assert.ok(after - before >= 24_000_000, `${before} → ${after}`);
    } finally {
      await berthOk(['rm', '-f', 'grower']);
    }
  });

  it('berth stats --no-stream and --format', async () => {
    const table = await berthOk(['stats', '--no-stream', 'busy']);
    assert.match(table, /^[^\n]+\n[^\n]+\n$/, 'the header and one row, each ending in a newline');
    const [header, row] = table.trimEnd().split('\n');
    assert.match(header!, /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS$/);
    assert.match(row!, /^[0-9a-f]{12}\s+busy\s+[\d.]+%\s+[\d.]+(B|KiB|MiB) \/ 64MiB\s+[\d.]+%\s+0B \/ 0B\s+\S+ \/ \S+\s+\d+$/);
    const formatted = await berthOk(['stats', '--no-stream', '--format', '{{.Name}} {{.MemUsage}}', 'busy']);
    assert.match(formatted, /^busy [\d.]+(KiB|MiB) \/ 64MiB\n$/);
    // Without names: the running containers, by id.
    const all = await berthOk(['stats', '--no-stream', '--format', '{{.Name}}']);
    assert.deepEqual(all.trim().split('\n').sort(), ['busy', 'idle']);
  });
});

/** go-units BytesSize for a byte count (the idle container's limit, the machine's memory). */
function formatMiB(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  let value = bytes;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${Number(value.toPrecision(4))}${units[i]}`;
}
