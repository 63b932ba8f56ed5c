import * as dgram from 'node:dgram';
import * as packet from 'dns-packet';
import { contains, parseIPv4, type Subnet } from '../ipam/subnets';

/** What the server of one network answers from: the addresses of a name for the asking client. */
export type NameLookup = (name: string, client: string) => string[];
/** The resolvers a client's other queries go to (its `--dns` servers, else the host's). */
export type UpstreamsOf = (client: string) => readonly string[];

const TTL_SECONDS = 600;
const FORWARD_TIMEOUT_MS = 2000;

/**
 * The embedded DNS server of one user-defined network: a UDP socket on the network's gateway
 * address (port 53) in the daemon's namespace. It answers A queries for the names on its own
 * network only (container names, aliases, short IDs; several containers under one alias come
 * back all, rotated per query for round robin), refuses queries from outside the network's
 * subnet (so names never leak between networks), and forwards every other query to the
 * client container's `--dns` servers, or else the host's resolvers.
 */
export class EmbeddedDns {
  private rotation = 0;

  private constructor(
    private readonly socket: dgram.Socket,
    private readonly subnet: Subnet,
    private readonly lookup: NameLookup,
    private readonly upstreams: UpstreamsOf,
  ) {
    socket.on('message', (message, remote) => void this.answer(message, remote).catch(() => undefined));
  }

  static open(address: string, subnet: Subnet, lookup: NameLookup, upstreams: UpstreamsOf): Promise<EmbeddedDns> {
    return new Promise((resolve, reject) => {
      const socket = dgram.createSocket('udp4');
      socket.once('error', reject);
      socket.bind(53, address, () => {
        socket.removeListener('error', reject);
        socket.on('error', () => undefined);
        resolve(new EmbeddedDns(socket, subnet, lookup, upstreams));
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private async answer(message: Buffer, remote: dgram.RemoteInfo): Promise<void> {
    let query: packet.Packet;
    try {
      query = packet.decode(message);
    } catch {
      return; // not DNS
    }
    const from = parseIPv4(remote.address);
    const reply = (rcode: string, answers: packet.Answer[] = []) =>
      this.socket.send(packet.encode({ id: query.id, type: 'response', flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE, rcode, questions: query.questions, answers } as packet.Packet), remote.port, remote.address);
    if (from === undefined || !contains(this.subnet, from)) return reply('REFUSED');
    const question = query.questions?.[0];
    if (!question) return reply('FORMERR');
    const name = question.name.toLowerCase().replace(/\.$/, '');
    const addresses = this.lookup(name, remote.address);
    if (addresses.length > 0) {
      if (question.type !== 'A' && (question.type as string) !== 'ANY') return reply('NOERROR');
      const start = this.rotation++ % addresses.length;
      const rotated = [...addresses.slice(start), ...addresses.slice(0, start)];
      return reply('NOERROR', rotated.map((data) => ({ type: 'A', name: question.name, ttl: TTL_SECONDS, class: 'IN', data })));
    }
    const forwarded = await this.forward(message, this.upstreams(remote.address));
    if (forwarded) this.socket.send(forwarded, remote.port, remote.address);
    else reply('SERVFAIL');
  }

  /** The first upstream's answer to the query as it came, or undefined (none answered in time). */
  private async forward(message: Buffer, upstreams: readonly string[]): Promise<Buffer | undefined> {
    for (const upstream of upstreams) {
      const answer = await new Promise<Buffer | undefined>((resolve) => {
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
      if (answer) return answer;
    }
    return undefined;
  }
}
