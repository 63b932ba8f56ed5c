import * as path from 'node:path';
import { median, nowMs, sample, sleep } from './lib/stats';
import { mustRun, rssBytes } from './lib/proc';
import type { BenchRow } from './lib/report';
import type { EngineApi } from './lib/engine-api';
import type { PrivateNetns } from '../test/helpers/private-netns';
import type { BenchContext } from './context';

function envInt(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

const IMAGE = 'busybox';
const MB = 1024 * 1024;
const PORT_CLIENT = path.join(__dirname, 'lib', 'port-client.js');
/** The size of the stream benchmark (`BENCH_PORT_MB`, 1 GiB by default). */
const STREAM_BYTES = envInt('BENCH_PORT_MB', 1024) * MB;
/** The server of the port benchmarks: the stream per connection on 9000 (nc -ll: one process per client), HTTP on 8080. */
// The page first, then nc in the background (`a && b & c` would put the whole list in the background, racing httpd's chdir).
const PORT_SERVER = ['sh', '-c', `mkdir -p /www && echo ok > /www/index.html || exit 1; nc -ll -p 9000 -e head -c ${STREAM_BYTES} /dev/zero & exec httpd -f -p 8080 -h /www`];
const HOST_PORTS = { stream: 19000, http: 18080 };


/**
 * `run --rm busybox true` on the default bridge: the container gets a veth pair, an address,
 * a default route and NAT, and loses them again. Through the API (the daemon's own cost) for
 * berth and dockerd, and through each CLI (podman's default network is its bridge).
 */
export async function benchRunRmBridge(ctx: BenchContext): Promise<BenchRow[]> {
  const { berth, docker, podman, runs, warmups } = ctx;
  const apiRun = (api: EngineApi) => async () => {
    const code = await api.runRm(IMAGE, ['true'], 'bridge');
    if (code !== 0) throw new Error(`run --rm exited with ${code}`);
  };
  const cliArgs = ['run', '--rm', IMAGE, 'true'];
  const rows: BenchRow[] = [];
  const berthApi = median(await sample(runs, warmups, apiRun(berth.api)));
  const dockerApi = docker ? median(await sample(runs, warmups, apiRun(docker.api))) : undefined;
  rows.push({ benchmark: 'run --rm true, default bridge (API)', unit: 'ms', berth: berthApi, docker: dockerApi, target: 110 });
  const dockerCliOnBerth = ctx.dockerCliOnBerth ? median(await sample(runs, warmups, () => ctx.dockerCliOnBerth!(cliArgs))) : undefined;
  const dockerCli = docker ? median(await sample(runs, warmups, () => docker.cli!(cliArgs))) : undefined;
  const podmanCli = podman ? median(await sample(runs, warmups, () => podman.cli!(cliArgs))) : undefined;
  if (dockerCliOnBerth !== undefined) rows.push({ benchmark: 'run --rm true, default bridge (docker CLI on both / podman)', unit: 'ms', berth: dockerCliOnBerth, docker: dockerCli, podman: podmanCli });
  return rows;
}

/** A client process in an engine's namespace; its own measured milliseconds. */
async function clientMs(netns: PrivateNetns, args: string[]): Promise<number> {
  const c = netns.command(process.execPath, [PORT_CLIENT, ...args]);
  // 10,000 requests take minutes on a loaded machine (runCommand's default limit is a minute).
  const out = await mustRun(c.file, c.args, { timeoutMs: 30 * 60_000 });
  return (JSON.parse(out.stdout.toString()) as { ms: number }).ms;
}

interface PortTarget {
  netns: PrivateNetns;
  /** The bridge's gateway: the namespace's own address that DNAT rules catch (kernel NAT). */
  gateway: string;
  cleanup(): Promise<void>;
}

/**
 * Throughput through published ports, from the engine's "host" (its network namespace): 1 GiB
 * over one connection, and 10,000 small HTTP requests (a new connection each, 8 at a time,
 * busybox httpd), each to 127.0.0.1 (docker-proxy / berth's userland proxy) and to the
 * bridge gateway's address (kernel DNAT). The server is one busybox container on the default
 * bridge with -p 19000:9000 -p 18080:8080.
 */
export async function benchPortThroughput(ctx: BenchContext): Promise<BenchRow[]> {
  const { berth, docker, podman } = ctx;
  const downloads = Math.max(3, Math.floor(ctx.runs / 4));
  const requests = envInt('BENCH_HTTP_REQUESTS', 10_000);
  const bindings = { '9000/tcp': [{ HostIp: '', HostPort: String(HOST_PORTS.stream) }], '8080/tcp': [{ HostIp: '', HostPort: String(HOST_PORTS.http) }] };
  const apiTarget = async (api: EngineApi, netns: PrivateNetns): Promise<PortTarget> => {
    const id = await api.runDetached(IMAGE, PORT_SERVER, 'bench-ports', { NetworkMode: 'bridge', PortBindings: bindings }, { ExposedPorts: Object.fromEntries(Object.keys(bindings).map((p) => [p, {}])) });
    // The container's gateway: dockerd 20.10's default bridge has no Gateway in its IPAM config.
    const inspect = JSON.parse(await api.mustRequest('GET', `/containers/${id}/json`)) as { NetworkSettings: { Gateway: string } };
    return { netns, gateway: inspect.NetworkSettings.Gateway, cleanup: () => api.removeAll() };
  };
  const targets: Array<[string, PortTarget | undefined]> = [];
  targets.push(['berth', await apiTarget(berth.api, berth.netns)]);
  if (docker) targets.push(['docker', await apiTarget(docker.api, docker.netns)]);
  if (podman) {
    await podman.cli!(['run', '-d', '--name', 'bench-ports', '-p', `${HOST_PORTS.stream}:9000`, '-p', `${HOST_PORTS.http}:8080`, IMAGE, ...PORT_SERVER]);
    const c = podman.command(['network', 'inspect', 'podman']);
    const inspect = JSON.parse((await mustRun(c.file, c.args)).stdout.toString()) as Array<{ subnets: Array<{ gateway: string }> }>;
    targets.push(['podman', { netns: podman.netns, gateway: inspect[0]!.subnets[0]!.gateway, cleanup: () => podman.cli!(['rm', '-af', '-t', '0']) }]);
  }
  const results = new Map<string, Record<string, number>>();
  try {
    for (const [name, target] of targets) {
      const r: Record<string, number> = {};
      for (const [where, address] of [['127.0.0.1', '127.0.0.1'], ['gateway', target!.gateway]] as const) {
        const times: number[] = [];
        await clientMs(target!.netns, ['download', address, String(HOST_PORTS.stream), String(STREAM_BYTES)]); // warm-up
        for (let i = 0; i < downloads; i++) times.push(await clientMs(target!.netns, ['download', address, String(HOST_PORTS.stream), String(STREAM_BYTES)]));
        r[`download ${where}`] = median(times);
        r[`requests ${where}`] = await clientMs(target!.netns, ['requests', address, String(HOST_PORTS.http), String(requests), '8']);
      }
      results.set(name, r);
    }
  } finally {
    for (const [, target] of targets) await target?.cleanup().catch(() => undefined);
  }
  const row = (key: string, benchmark: string): BenchRow => ({
    benchmark,
    unit: 'ms',
    berth: results.get('berth')![key]!,
    docker: results.get('docker')?.[key],
    podman: results.get('podman')?.[key],
  });
  return [
    row('download 127.0.0.1', `${STREAM_BYTES / MB} MiB through -p, to 127.0.0.1 (userland proxy)`),
    row('download gateway', `${STREAM_BYTES / MB} MiB through -p, to the host address (kernel NAT)`),
    row('requests 127.0.0.1', `${requests} HTTP requests through -p, to 127.0.0.1`),
    row('requests gateway', `${requests} HTTP requests through -p, to the host address`),
  ];
}

/**
 * 200 `run -d busybox sleep 1000` on one user-defined bridge network, one after another
 * (create + start through the API; podman through its CLI): the wall time, and the daemon's
 * RSS with them running (berthd; dockerd + its containerd). `BENCH_NET_CONTAINERS` changes the count.
 */
export async function benchBridgeScale(ctx: BenchContext): Promise<BenchRow[]> {
  const { berth, docker, podman } = ctx;
  const count = envInt('BENCH_NET_CONTAINERS', 200);
  const network = 'bench-scale';
  const apiRound = async (api: EngineApi, daemonPids: () => Promise<number[]>) => {
    await api.mustRequest('POST', '/networks/create', { Name: network, Driver: 'bridge' });
    try {
      const start = nowMs();
      for (let i = 0; i < count; i++) await api.runDetached(IMAGE, ['sleep', '1000'], undefined, { NetworkMode: network });
      const elapsed = nowMs() - start;
      await sleep(1000);
      let rss = 0;
      for (const pid of await daemonPids()) rss += await rssBytes(pid);
      return { elapsed, rss: rss / MB };
    } finally {
      await api.removeAll();
      await api.request('DELETE', `/networks/${network}`);
    }
  };
  const berthResult = await apiRound(berth.api, () => berth.daemonPids());
  const dockerResult = docker ? await apiRound(docker.api, () => docker.daemonPids()) : undefined;
  let podmanMs: number | undefined;
  if (podman) {
    await podman.cli!(['network', 'create', network]);
    try {
      const start = nowMs();
      for (let i = 0; i < count; i++) await podman.cli!(['run', '-d', '--network', network, IMAGE, 'sleep', '1000']);
      podmanMs = nowMs() - start;
    } finally {
      await podman.cli!(['rm', '-af', '-t', '0']);
      await podman.cli!(['network', 'rm', network]).catch(() => undefined);
    }
  }
  return [
    { benchmark: `${count} × run -d on one bridge network, sequential`, unit: 'ms', berth: berthResult.elapsed, docker: dockerResult?.elapsed, podman: podmanMs },
    { benchmark: `daemon RSS with ${count} running on it`, unit: 'MB', berth: berthResult.rss, docker: dockerResult?.rss },
  ];
}

