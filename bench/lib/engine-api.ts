import * as http from 'node:http';
import * as net from 'node:net';

/**
 * A minimal Docker Engine API client for benchmarks, speaking to berthd and dockerd alike
 * over a unix socket with keep-alive, as the docker CLI does. API 1.41 is the newest that
 * Docker 20.10 serves; berth negotiates down to it.
 */
const API = '/v1.41';

export class EngineApi {
  private readonly agent: http.Agent;

  constructor(readonly socketPath: string) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  }

  close(): void {
    this.agent.destroy();
  }

  /** Sends a request; resolves with status and body once the response ends. */
  request(method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = http.request(
        {
          socketPath: this.socketPath,
          agent: this.agent,
          method,
          path: API + path,
          headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : { 'Content-Length': 0 },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  async mustRequest(method: string, path: string, body?: unknown): Promise<string> {
    const res = await this.request(method, path, body);
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.body}`);
    return res.body;
  }

  /**
   * Starts a request whose response the caller waits for later (wait): resolves `headers`
   * once the status line arrived and `done` with the body.
   */
  pending(method: string, path: string): { headers: Promise<void>; done: Promise<string> } {
    let onHeaders!: () => void;
    let failHeaders!: (err: Error) => void;
    const headers = new Promise<void>((resolve, reject) => {
      onHeaders = resolve;
      failHeaders = reject;
    });
    const done = new Promise<string>((resolve, reject) => {
      const req = http.request({ socketPath: this.socketPath, agent: this.agent, method, path: API + path, headers: { 'Content-Length': 0 } }, (res) => {
        onHeaders();
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if ((res.statusCode ?? 0) >= 300) reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`));
          else resolve(text);
        });
      });
      req.on('error', (err) => {
        failHeaders(err);
        reject(err);
      });
      req.end();
    });
    done.catch(() => undefined);
    return { headers, done };
  }

  /**
   * A hijacked attach: resolves `ready` once the daemon answered 101/200, and `ended`
   * when the daemon closes the stream (the container's output is over).
   */
  attach(id: string): { ready: Promise<void>; ended: Promise<Buffer> } {
    const socket = net.createConnection(this.socketPath);
    const chunks: Buffer[] = [];
    let headerDone = false;
    let onReady!: () => void;
    let failReady!: (err: Error) => void;
    const ready = new Promise<void>((resolve, reject) => {
      onReady = resolve;
      failReady = reject;
    });
    const ended = new Promise<Buffer>((resolve, reject) => {
      socket.on('connect', () => {
        socket.write(
          `POST ${API}/containers/${id}/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`,
        );
      });
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        if (!headerDone && Buffer.concat(chunks).includes('\r\n\r\n')) {
          headerDone = true;
          const head = Buffer.concat(chunks).toString('latin1');
          if (!/^HTTP\/1\.1 (101|200)/.test(head)) {
            const err = new Error(`attach ${id}: ${head.split('\r\n')[0]}`);
            failReady(err);
            reject(err);
            socket.destroy();
            return;
          }
          onReady();
        }
      });
      socket.on('error', (err) => {
        failReady(err);
        reject(err);
      });
      socket.on('close', () => resolve(Buffer.concat(chunks)));
    });
    ended.catch(() => undefined);
    return { ready, ended };
  }

  /**
   * What `docker run --rm --network <mode, none by default> IMAGE CMD...` does over the API: create with
   * AutoRemove, attach stdout/stderr, wait for removal, start, then read the exit code.
   */
  async runRm(image: string, cmd: string[], networkMode = 'none'): Promise<number> {
    const created = JSON.parse(
      await this.mustRequest('POST', '/containers/create', {
        Image: image,
        Cmd: cmd,
        AttachStdout: true,
        AttachStderr: true,
        HostConfig: { AutoRemove: true, NetworkMode: networkMode },
      }),
    ) as { Id: string };
    const attach = this.attach(created.Id);
    await attach.ready;
    const wait = this.pending('POST', `/containers/${created.Id}/wait?condition=removed`);
    await wait.headers;
    await this.mustRequest('POST', `/containers/${created.Id}/start`);
    const [result] = await Promise.all([wait.done, attach.ended]);
    return (JSON.parse(result) as { StatusCode: number }).StatusCode;
  }

  /**
   * What `docker run -d --network none IMAGE CMD...` does: create, then start. Returns the id.
   * `hostConfig` replaces the HostConfig (a network mode, published ports).
   */
  /** `config`: more of the create request's Config (ExposedPorts: dockerd publishes only the PortBindings of exposed ports, as the docker CLI sends both). */
  async runDetached(image: string, cmd: string[], name?: string, hostConfig: Record<string, unknown> = { NetworkMode: 'none' }, config: Record<string, unknown> = {}): Promise<string> {
    const query = name ? `?name=${encodeURIComponent(name)}` : '';
    const created = JSON.parse(await this.mustRequest('POST', `/containers/create${query}`, { ...config, Image: image, Cmd: cmd, HostConfig: hostConfig })) as { Id: string };
    await this.mustRequest('POST', `/containers/${created.Id}/start`);
    return created.Id;
  }

  async removeAll(): Promise<void> {
    const list = JSON.parse(await this.mustRequest('GET', '/containers/json?all=1')) as Array<{ Id: string }>;
    await Promise.all(list.map((c) => this.request('DELETE', `/containers/${c.Id}?force=1`)));
  }
}
