import * as http from 'node:http';
import { GenericContainer, Network, Wait } from 'testcontainers';

/**
 * testcontainers against a berthd, run as its own process in the daemon's network namespace
 * (DOCKER_HOST=unix://<socket>, TESTCONTAINERS_RYUK_DISABLED=true), where published ports are:
 * a busybox httpd with an exposed port and an HTTP wait strategy, reached over its mapped port,
 * and a second container reaching it by network alias on a testcontainers Network. Prints
 * what it saw as JSON.
 */
export interface TestcontainersReport {
  host: string;
  mappedPort: number;
  body: string;
  byAlias: string;
  ids: string[];
  networkName: string;
}

const SERVE = ['sh', '-c', 'mkdir -p /www && echo hello-testcontainers > /www/index.html && exec httpd -f -p 80 -h /www'];

async function main(): Promise<void> {
  const network = await new Network().start();
  const server = await new GenericContainer('busybox:latest')
    .withCommand(SERVE)
    .withExposedPorts(80)
    .withNetwork(network)
    .withNetworkAliases('srv')
    .withWaitStrategy(Wait.forHttp('/', 80).forStatusCode(200))
    .withStartupTimeout(60_000)
    .start();
  const client = await new GenericContainer('busybox:latest').withCommand(['sleep', '600']).withNetwork(network).start();
  try {
    const host = server.getHost();
    const mappedPort = server.getMappedPort(80);
    const body = await get(`http://${host}:${mappedPort}/`);
    const byAlias = (await client.exec(['wget', '-q', '-O-', 'http://srv/'])).output;
    const report: TestcontainersReport = { host, mappedPort, body, byAlias, ids: [server.getId(), client.getId()], networkName: network.getName() };
    process.stdout.write(JSON.stringify(report) + '\n');
  } finally {
    await client.stop();
    await server.stop();
    await network.stop();
  }
}

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks).toString()));
      })
      .on('error', reject);
  });
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
