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
 * docker-proxy does; for UDP, the datagrams of the same (127.0.0.1, hairpin) through a socket
 * per client (`UdpRelay`).
 */
export class PortProxy {
  private constructor(
    readonly mapping: PortMapping,
    private readonly close_: () => Promise<void>,
  ) {}

  static async open(request: PortRequest, target: { ip: string; port: number }, exclude: ReadonlySet<string>): Promise<PortProxy> {
    if (request.hostPortLast !== undefined) {
      // A host range for one container port: the first port of it that is free (as dockerd's port allocator).
      for (let port = request.hostPort; port <= request.hostPortLast; port++) {
        if (exclude.has(`${request.proto}/${port}`)) continue;
        try {
          return await PortProxy.bind(request, port, target);
        } catch {
          // taken: the next one
        }
      }
      throw conflict(`Bind for ${request.hostIp}:${request.hostPort}-${request.hostPortLast} failed: port is already allocated`);
    }
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
    const mapping: PortMapping = { proto: request.proto, containerPort: request.containerPort, hostIp: request.hostIp, hostPort };
    const taken = (err: Error) => conflict(`Bind for ${request.hostIp}:${hostPort} failed: port is already allocated (${err.message})`);
    if (request.proto === 'udp') {
      return new Promise((resolve, reject) => {
        const socket = dgram.createSocket('udp4');
        socket.once('error', (err) => reject(taken(err)));
        socket.bind(hostPort, request.hostIp, () => {
          socket.removeAllListeners('error');
          socket.on('error', () => undefined);
          const relay = new UdpRelay(socket, target);
          resolve(new PortProxy(mapping, () => relay.close()));
        });
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

/** How long a UDP client's relay socket lives without traffic (docker-proxy's UDPConnTrackTimeout). */
const UDP_IDLE_MS = 90_000;

/**
 * docker-proxy's UDP relay: each client (address and port) gets a socket of its own connected
 * to the container, so the container's replies find their way back to that client through the
 * published port's socket; a socket idle for 90 s goes.
 */
class UdpRelay {
  private readonly clients = new Map<string, { socket: dgram.Socket; timer: NodeJS.Timeout }>();

  constructor(
    private readonly listener: dgram.Socket,
    private readonly target: { ip: string; port: number },
  ) {
    listener.on('message', (message, client) => this.relay(message, client));
  }

  private relay(message: Buffer, client: dgram.RemoteInfo): void {
    const key = `${client.address}:${client.port}`;
    let entry = this.clients.get(key);
    if (!entry) {
      const socket = dgram.createSocket('udp4');
      const forget = () => {
        const current = this.clients.get(key);
        if (current?.socket !== socket) return;
        clearTimeout(current.timer);
        this.clients.delete(key);
        socket.close();
      };
      socket.on('error', forget);
      socket.on('message', (reply) => {
        this.touch(key);
        this.listener.send(reply, client.port, client.address);
      });
      entry = { socket, timer: setTimeout(forget, UDP_IDLE_MS) };
      this.clients.set(key, entry);
    }
    this.touch(key);
    entry.socket.send(message, this.target.port, this.target.ip);
  }

  private touch(key: string): void {
    const entry = this.clients.get(key);
    entry?.timer.refresh();
  }

  close(): Promise<void> {
    for (const { socket, timer } of this.clients.values()) {
      clearTimeout(timer);
      socket.close();
    }
    this.clients.clear();
    return new Promise((done) => this.listener.close(() => done()));
  }
}
