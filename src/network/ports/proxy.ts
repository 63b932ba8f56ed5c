import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { conflict } from '../../errors';
import type { PortMapping, PortRequest } from './port-specs';

/** Docker's ephemeral range for published ports (net.ipv4.ip_local_port_range's default upper part). */
const EPHEMERAL_FIRST = 49153;
const EPHEMERAL_LAST = 60999;

/**
 * The userland side of a published port, in the daemon's network namespace: a listener on
 * the host address and port that holds the port (so another process, or another container,
 * cannot take it: a taken one is a 409) and, for TCP, relays connections that kernel NAT does
 * not catch to the container: 127.0.0.1 (locally generated traffic to loopback is never
 * DNATed by berth's rules) and hairpin traffic from containers to the host's address, as
 * docker-proxy does. UDP ports are held, not relayed: kernel NAT carries them.
 */
export class PortProxy {
  private constructor(
    readonly mapping: PortMapping,
    private readonly close_: () => Promise<void>,
  ) {}

  static async open(request: PortRequest, target: { ip: string; port: number }, exclude: ReadonlySet<string>): Promise<PortProxy> {
    if (request.hostPort !== 0) return PortProxy.bind(request, request.hostPort, target);
    for (let port = EPHEMERAL_FIRST + Math.floor(Math.random() * 1000); port <= EPHEMERAL_LAST; port++) {
      if (exclude.has(`${request.proto}/${port}`)) continue;
      try {
        return await PortProxy.bind(request, port, target);
      } catch {
        // taken: the next one
      }
    }
    throw conflict(`no free host port in ${EPHEMERAL_FIRST}-${EPHEMERAL_LAST} to publish ${request.containerPort}/${request.proto}`);
  }

  private static bind(request: PortRequest, hostPort: number, target: { ip: string; port: number }): Promise<PortProxy> {
    const mapping: PortMapping = { ...request, hostPort };
    const taken = (err: Error) => conflict(`Bind for ${request.hostIp}:${hostPort} failed: port is already allocated (${err.message})`);
    if (request.proto === 'udp') {
      return new Promise((resolve, reject) => {
        const socket = dgram.createSocket('udp4');
        socket.once('error', (err) => reject(taken(err)));
        socket.bind(hostPort, request.hostIp, () => resolve(new PortProxy(mapping, () => new Promise((done) => socket.close(() => done())))));
      });
    }
    const sockets = new Set<net.Socket>();
    // Half-open, as docker-proxy: one side's end (FIN) is passed on as the other's end once
    // what it sent is written, and the other direction goes on; each socket closes when both
    // of its directions are done. Only an error tears both down at once (destroying on the
    // first close would drop what is still buffered for the other side).
    const server = net.createServer({ allowHalfOpen: true }, (client) => {
      const upstream = net.connect({ port: target.port, host: target.ip, allowHalfOpen: true });
      sockets.add(client).add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
      };
      for (const socket of [client, upstream]) {
        socket.on('error', drop);
        socket.on('close', () => sockets.delete(socket));
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    return new Promise((resolve, reject) => {
      server.once('error', (err) => reject(taken(err)));
      server.listen({ port: hostPort, host: request.hostIp, exclusive: true }, () => {
        const close = () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          });
        resolve(new PortProxy(mapping, close));
      });
    });
  }

  close(): Promise<void> {
    return this.close_();
  }
}
