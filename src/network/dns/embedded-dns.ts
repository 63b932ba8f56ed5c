import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as packet from 'dns-packet';
import { contains, parseIPv4, type Subnet } from '../ipam/subnets';

/** What one network's server answers from, for the asking client (a container's address). */
export interface DnsNames {
  /** The addresses of a name (none: not one of the client's networks' names). */
  addresses(name: string, client: string): string[];
  /**
   * The name of an address for a reverse lookup (`<container>.<network>`, as dockerd answers),
   * or whether the address at least lies in one of the client's networks (then it is answered
   * NXDOMAIN there and then: the host's resolvers cannot know a container network's addresses).
   */
  reverse(address: string, client: string): { name?: string; ownSubnet: boolean };
  /** The resolvers the client's other queries go to (its `--dns` servers, else the host's). */
  upstreams(client: string): readonly string[];
}

const TTL_SECONDS = 600;
const FORWARD_TIMEOUT_MS = 2000;
/** A UDP answer's limit without EDNS (RFC 1035), and the most an EDNS client may ask for here. */
const UDP_PLAIN_MAX = 512;
const UDP_EDNS_MAX = 4096;
const TCP_IDLE_MS = 10_000;

type Proto = 'udp' | 'tcp';
/** The response codes berth answers with (dns-packet's encode leaves the header's RCODE bits to the flags). */
const RCODES = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;
type Rcode = keyof typeof RCODES;

/**
 * The embedded DNS server of one user-defined network: UDP and TCP (RFC 1035's two-byte length
 * prefix) on the network's gateway address, port 53, in the daemon's namespace. It answers A
 * queries for the names on the client's networks (container names, aliases, short IDs, and
 * `<name>.<network>`; several containers under one alias come back all, rotated per query for
 * round robin), AAAA queries for those names with no records (NOERROR, so clients do not go on
 * to other servers), PTR queries for their addresses; it refuses queries from outside the
 * network's subnet (so names never leak between networks), and forwards every other query to
 * the client container's `--dns` servers, or else the host's resolvers, over the protocol it
 * came on. A UDP answer larger than the client takes (512 bytes, or its EDNS size) is cut to
 * whole records and flagged TC, so the client asks again over TCP, as dockerd's resolver does.
 */
export class EmbeddedDns {
  private rotation = 0;
  private readonly connections = new Set<net.Socket>();

  private constructor(
    private readonly udp: dgram.Socket,
    private readonly tcp: net.Server,
    private readonly subnet: Subnet,
    private readonly names: DnsNames,
  ) {
    udp.on('message', (message, remote) => {
      void this.resolve(message, remote.address, 'udp')
        .then((reply) => reply && udp.send(reply, remote.port, remote.address))
        .catch(() => undefined);
    });
    tcp.on('connection', (socket) => this.serveTcp(socket));
  }

  static async open(address: string, subnet: Subnet, names: DnsNames): Promise<EmbeddedDns> {
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(53, address, () => {
        udp.removeListener('error', reject);
        resolve();
      });
    });
    udp.on('error', () => undefined);
    const tcp = net.createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen({ port: 53, host: address, exclusive: true }, () => {
          tcp.removeListener('error', reject);
          resolve();
        });
      });
    } catch (err) {
      udp.close();
      throw err;
    }
    tcp.on('error', () => undefined);
    return new EmbeddedDns(udp, tcp, subnet, names);
  }

  async close(): Promise<void> {
    for (const socket of this.connections) socket.destroy();
    await Promise.all([new Promise<void>((resolve) => this.udp.close(() => resolve())), new Promise<void>((resolve) => this.tcp.close(() => resolve()))]);
  }

  /** One TCP connection: length-prefixed queries, answered in turn, until the client closes or idles. */
  private serveTcp(socket: net.Socket): void {
    this.connections.add(socket);
    socket.setTimeout(TCP_IDLE_MS, () => socket.destroy());
    socket.on('close', () => this.connections.delete(socket));
    socket.on('error', () => undefined);
    let pending = Buffer.alloc(0);
    let queue = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const message = pending.subarray(2, 2 + pending.readUInt16BE(0));
        pending = pending.subarray(2 + message.length);
        queue = queue.then(async () => {
          const reply = await this.resolve(message, socket.remoteAddress ?? '', 'tcp').catch(() => undefined);
          if (!reply || socket.destroyed) return;
          const length = Buffer.alloc(2);
          length.writeUInt16BE(reply.length);
          socket.write(Buffer.concat([length, reply]));
        });
      }
    });
  }

  /** The answer to one query (undefined: not DNS, nothing to answer). */
  async resolve(message: Buffer, clientAddress: string, proto: Proto): Promise<Buffer | undefined> {
    let query: packet.Packet;
    try {
      query = packet.decode(message);
    } catch {
      return undefined;
    }
    if (query.type === 'response') return undefined;
    const client = clientAddress.replace(/^::ffff:/, '');
    const reply = (rcode: Rcode, answers: packet.Answer[] = []) => this.encode(query, rcode, answers, proto);
    const from = parseIPv4(client);
    if (from === undefined || !contains(this.subnet, from)) return reply('REFUSED');
    const question = query.questions?.[0];
    if (!question || query.questions!.length !== 1) return reply('FORMERR');
    const name = question.name.toLowerCase().replace(/\.$/, '');
    const type = question.type as string;
    if (type === 'A' || type === 'AAAA' || type === 'ANY') {
      const addresses = this.names.addresses(name, client);
      if (addresses.length > 0) {
        if (type === 'AAAA') return reply('NOERROR');
        const start = this.rotation++ % addresses.length;
        const rotated = [...addresses.slice(start), ...addresses.slice(0, start)];
        return reply('NOERROR', rotated.map((data) => ({ type: 'A', name: question.name, ttl: TTL_SECONDS, class: 'IN', data })));
      }
    } else if (type === 'PTR') {
      const address = reverseAddress(name);
      if (address) {
        const found = this.names.reverse(address, client);
        if (found.name) return reply('NOERROR', [{ type: 'PTR', name: question.name, ttl: TTL_SECONDS, class: 'IN', data: found.name }]);
        if (found.ownSubnet) return reply('NXDOMAIN');
      }
    }
    const upstreams = this.names.upstreams(client);
    for (const upstream of upstreams) {
      const answer = proto === 'udp' ? await forwardUdp(message, upstream) : await forwardTcp(message, upstream);
      if (answer) return answer;
    }
    return reply('SERVFAIL');
  }

  private encode(query: packet.Packet, rcode: Rcode, answers: packet.Answer[], proto: Proto): Buffer {
    const flags = ((query.flags ?? 0) & packet.RECURSION_DESIRED) | packet.RECURSION_AVAILABLE | RCODES[rcode];
    const response = { id: query.id, type: 'response', flags, questions: query.questions, answers } as packet.Packet;
    let encoded = packet.encode(response);
    if (proto === 'udp') {
      const limit = udpLimit(query);
      // Whole records only, as miekg/dns's Truncate: drop from the end until it fits, and say so.
      while (encoded.length > limit && answers.length > 0) {
        answers = answers.slice(0, -1);
        encoded = packet.encode({ ...response, flags: flags | packet.TRUNCATED_RESPONSE, answers } as packet.Packet);
      }
    }
    return encoded;
  }
}

/** The largest UDP answer the query takes: its EDNS payload size (at least 512), else 512. */
function udpLimit(query: packet.Packet): number {
  const opt = (query.additionals ?? []).find((a) => (a.type as string) === 'OPT') as { udpPayloadSize?: number } | undefined;
  return opt?.udpPayloadSize ? Math.min(Math.max(opt.udpPayloadSize, UDP_PLAIN_MAX), UDP_EDNS_MAX) : UDP_PLAIN_MAX;
}

/** The IPv4 address of a `d.c.b.a.in-addr.arpa` name, else undefined. */
export function reverseAddress(name: string): string | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa$/.exec(name);
  if (!match) return undefined;
  const address = [match[4], match[3], match[2], match[1]].join('.');
  return parseIPv4(address) === undefined ? undefined : address;
}

/** One upstream's answer to the query as it came, over UDP, or undefined (none in time). */
function forwardUdp(message: Buffer, upstream: string): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket(upstream.includes(':') ? 'udp6' : 'udp4');
    const done = (value: Buffer | undefined) => {
      clearTimeout(timer);
      socket.close();
      resolve(value);
    };
    const timer = setTimeout(() => done(undefined), FORWARD_TIMEOUT_MS);
    socket.on('error', () => done(undefined));
    socket.on('message', (reply) => done(reply));
    socket.send(message, 53, upstream);
  });
}

/** One upstream's answer over TCP (length-prefixed both ways), or undefined. */
function forwardTcp(message: Buffer, upstream: string): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: upstream, port: 53 });
    let received = Buffer.alloc(0);
    const done = (value: Buffer | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => done(undefined), FORWARD_TIMEOUT_MS);
    socket.on('error', () => done(undefined));
    socket.on('connect', () => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(message.length);
      socket.write(Buffer.concat([length, message]));
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) done(received.subarray(2, 2 + received.readUInt16BE(0)));
    });
    socket.on('end', () => done(undefined));
  });
}
