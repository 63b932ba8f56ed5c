import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as packet from 'dns-packet';

/**
 * A small DNS client for tests, run as its own process inside a container's network namespace
 * (`nsenter --net=<SandboxKey> node dns-query.js <server[:port]> <name> <type> <udp|tcp> [edns size]`):
 * prints the answer as JSON (rcode, whether TC is set, the answers, its size in bytes).
 */
export interface DnsQueryResult {
  rcode: string;
  truncated: boolean;
  answers: Array<{ name: string; type: string; data: unknown }>;
  bytes: number;
}

async function main(): Promise<void> {
  const [target, name, type, proto, edns] = process.argv.slice(2);
  const [server, portText = '53'] = (target ?? '').split(':');
  const port = Number(portText);
  if (!server || !name || !type || (proto !== 'udp' && proto !== 'tcp')) throw new Error('usage: dns-query <server> <name> <type> <udp|tcp> [edns size]');
  const query = packet.encode({
    id: Math.floor(Math.random() * 65536),
    type: 'query',
    flags: packet.RECURSION_DESIRED,
    questions: [{ name, type: type as packet.RecordType, class: 'IN' }],
    ...(edns ? { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: Number(edns) } as unknown as packet.Answer] } : {}),
  });
  const reply = proto === 'udp' ? await overUdp(server, port, query) : await overTcp(server, port, query);
  const decoded = packet.decode(reply);
  const result: DnsQueryResult = {
    rcode: (decoded as { rcode?: string }).rcode ?? '',
    truncated: ((decoded.flags ?? 0) & packet.TRUNCATED_RESPONSE) !== 0,
    answers: (decoded.answers ?? []).map((a) => ({ name: a.name, type: a.type, data: (a as { data?: unknown }).data })),
    bytes: reply.length,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

function overUdp(server: string, port: number, query: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket('udp4');
    const timer = setTimeout(() => reject(new Error('no answer over UDP in 5 s')), 5000);
    socket.on('error', reject);
    socket.on('message', (message) => {
      clearTimeout(timer);
      socket.close();
      resolve(message);
    });
    socket.send(query, port, server);
  });
}

function overTcp(server: string, port: number, query: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: server, port });
    const timer = setTimeout(() => reject(new Error('no answer over TCP in 5 s')), 5000);
    let received = Buffer.alloc(0);
    socket.on('error', reject);
    socket.on('connect', () => socket.write(Buffer.concat([Buffer.from([query.length >> 8, query.length & 0xff]), query])));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(received.subarray(2, 2 + received.readUInt16BE(0)));
      }
    });
  });
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
