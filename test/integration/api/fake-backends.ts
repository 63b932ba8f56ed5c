import { PassThrough, Readable } from 'node:stream';
import type { AcceptStream, Backends, ContainersBackend, ExecBackend, ImagesBackend, SystemBackend, WaitHandle } from '../../../src/api/backend';
import type { AttachSession, OutputChunk } from '../../../src/util/stdio-streams';
import type { ContainerCreateRequest, ContainerInspect, ContainerStatsResponse, ContainerSummary, ContainerWaitResponse } from '../../../src/api/types/containers';
import type { ExecConfig, ExecInspect } from '../../../src/api/types/exec';
import type { EventMessage, SystemInfo, SystemVersion } from '../../../src/api/types/system';
import { conflict, notFound, notImplemented, notModified } from '../../../src/errors';

/**
 * In-memory stand-ins for the engine, enough to drive the API server with real clients.
 * "Processes" are scripted: `echo ARGS` prints its arguments, `cat` copies stdin to stdout
 * until stdin ends, `sh -c 'exit N'` exits with N, an exec of `nosuchcmd` fails to start;
 * every process then exits.
 */
interface FakeContainer {
  id: string;
  name: string;
  body: ContainerCreateRequest;
  status: 'created' | 'running' | 'exited';
  exitCode: number;
  sessions: FakeSession[];
  waiters: { condition: string; resolve: (r: ContainerWaitResponse) => void }[];
  resizes: [number, number][];
}

export class FakeSession implements AttachSession {
  readonly output = new PassThrough({ objectMode: true });
  readonly stdin?: PassThrough;
  closed = false;
  constructor(readonly tty: boolean, withStdin: boolean) {
    if (withStdin) this.stdin = new PassThrough();
  }
  write(stream: OutputChunk['stream'], text: string): void {
    if (!this.output.writableEnded) this.output.write({ stream, data: Buffer.from(text) });
  }
  close(): void {
    this.closed = true;
    this.output.end();
  }
}

export class FakeContainers implements ContainersBackend {
  readonly containers = new Map<string, FakeContainer>();
  private counter = 0;

  find(ref: string): FakeContainer {
    const name = ref.replace(/^\//, '');
    for (const c of this.containers.values()) {
      if (c.id === ref || c.name === name || (ref.length >= 3 && c.id.startsWith(ref))) return c;
    }
    throw notFound(`No such container: ${ref}`);
  }

  async create(name: string | undefined, body: ContainerCreateRequest): Promise<{ Id: string; Warnings: string[] }> {
    if (body.Image === 'missing') throw notFound(`No such image: ${body.Image}:latest`);
    const id = (++this.counter).toString(16).padStart(4, '0').repeat(16);
    const finalName = name ?? `fake_${this.counter}`;
    for (const c of this.containers.values()) {
      if (c.name === finalName) throw conflict(`Conflict. The container name "/${finalName}" is already in use by container "${c.id}".`);
    }
    this.containers.set(id, { id, name: finalName, body, status: 'created', exitCode: 0, sessions: [], waiters: [], resizes: [] });
    return { Id: id, Warnings: [] };
  }

  async start(ref: string): Promise<void> {
    const c = this.find(ref);
    if (c.status === 'running') throw notModified('container already started');
    c.status = 'running';
    const cmd = c.body.Cmd ?? [];
    const sessions = c.sessions;
    const exit = (code: number) => {
      c.status = 'exited';
      c.exitCode = code;
      for (const s of sessions) s.output.end();
      for (const w of c.waiters.splice(0)) {
        if (w.condition === 'removed') this.containers.delete(c.id);
        w.resolve({ StatusCode: code, Error: null });
      }
      if (c.body.HostConfig?.AutoRemove) this.containers.delete(c.id);
    };
    if (cmd[0] === 'echo') {
      setImmediate(() => {
        for (const s of sessions) s.write('stdout', cmd.slice(1).join(' ') + (c.body.Tty ? '\r\n' : '\n'));
        exit(0);
      });
    } else if (cmd[0] === 'cat') {
      const input = sessions.find((s) => s.stdin)?.stdin;
      if (!input) setImmediate(() => exit(0));
      else {
        input.on('data', (d: Buffer) => sessions.forEach((s) => s.write('stdout', d.toString())));
        input.on('end', () => exit(0));
      }
    } else if (cmd[0] === 'sh' && cmd[1] === '-c' && /^exit \d+$/.test(cmd[2] ?? '')) {
      setImmediate(() => {
        for (const s of sessions) s.write('stderr', 'bye\n');
        exit(parseInt((cmd[2] ?? '').slice(5), 10));
      });
    }
  }

  async stop(ref: string): Promise<void> {
    const c = this.find(ref);
    if (c.status !== 'running') throw notModified('container already stopped');
    c.status = 'exited';
  }
  async restart(ref: string): Promise<void> {
    this.find(ref);
  }
  async kill(ref: string): Promise<void> {
    const c = this.find(ref);
    if (c.status !== 'running') throw conflict(`Cannot kill container: ${ref}: Container ${c.id} is not running`);
  }

  async wait(ref: string, condition: string): Promise<WaitHandle> {
    const c = this.find(ref);
    if (condition === 'not-running' && c.status !== 'running') return { result: Promise.resolve({ StatusCode: c.exitCode, Error: null }) };
    return { result: new Promise((resolve) => c.waiters.push({ condition, resolve })) };
  }

  async remove(ref: string, opts: { force: boolean }): Promise<void> {
    const c = this.find(ref);
    if (c.status === 'running' && !opts.force) {
      throw conflict(`cannot remove container "/${c.name}": container is running: stop the container before removing or force remove`);
    }
    this.containers.delete(c.id);
  }

  async list(opts: { all: boolean }): Promise<ContainerSummary[]> {
    return [...this.containers.values()]
      .filter((c) => opts.all || c.status === 'running')
      .map((c) => ({
        Id: c.id,
        Names: [`/${c.name}`],
        Image: c.body.Image ?? '',
        ImageID: 'sha256:' + 'ab'.repeat(32),
        Command: (c.body.Cmd ?? []).join(' '),
        Created: 1700000000,
        Ports: [],
        Labels: c.body.Labels ?? {},
        State: c.status,
        Status: c.status === 'running' ? 'Up 2 seconds' : `Exited (${c.exitCode}) 1 second ago`,
        HostConfig: { NetworkMode: 'default' },
        NetworkSettings: { Networks: {} },
        Mounts: [],
      }));
  }

  async inspect(ref: string): Promise<ContainerInspect> {
    const c = this.find(ref);
    const zero = '0001-01-01T00:00:00Z';
    return {
      Id: c.id,
      Created: '2024-01-01T00:00:00.000000000Z',
      Path: c.body.Cmd?.[0] ?? '',
      Args: c.body.Cmd?.slice(1) ?? [],
      State: {
        Status: c.status,
        Running: c.status === 'running',
        Paused: false,
        Restarting: false,
        OOMKilled: false,
        Dead: false,
        Pid: c.status === 'running' ? 4242 : 0,
        ExitCode: c.exitCode,
        Error: '',
        StartedAt: zero,
        FinishedAt: zero,
      },
      Image: 'sha256:' + 'ab'.repeat(32),
      ResolvConfPath: '',
      HostnamePath: '',
      HostsPath: '',
      LogPath: '',
      Name: `/${c.name}`,
      RestartCount: 0,
      Driver: 'overlay2',
      Platform: 'linux',
      MountLabel: '',
      ProcessLabel: '',
      AppArmorProfile: '',
      ExecIDs: null,
      HostConfig: c.body.HostConfig ?? {},
      GraphDriver: { Name: 'overlay2', Data: {} },
      Mounts: [],
      Config: { ...c.body, HostConfig: undefined, NetworkingConfig: undefined } as ContainerInspect['Config'],
      NetworkSettings: { Bridge: '', SandboxID: '', Ports: {}, SandboxKey: '', Networks: {} },
    };
  }

  async logs(ref: string) {
    const c = this.find(ref);
    const tty = Boolean(c.body.Tty);
    async function* batches() {
      yield [{ stream: 'stdout' as const, time: '2024-01-01T00:00:00.000000001Z', line: Buffer.from('out line\n') }];
      yield [{ stream: 'stderr' as const, time: '2024-01-01T00:00:00.000000002Z', line: Buffer.from('err line\n') }];
    }
    return { tty, batches: batches() };
  }

  async attach(ref: string, opts: { stdin: boolean }, accept?: AcceptStream): Promise<AttachSession> {
    const c = this.find(ref);
    await accept?.(Boolean(c.body.Tty));
    const session = new FakeSession(Boolean(c.body.Tty), opts.stdin && Boolean(c.body.OpenStdin));
    c.sessions.push(session);
    if (c.status === 'exited') session.output.end();
    return session;
  }

  async resize(ref: string, h: number, w: number): Promise<void> {
    this.find(ref).resizes.push([h, w]);
  }
  stats(ref: string): AsyncIterable<ContainerStatsResponse> {
    throw new Error(`stats of ${this.find(ref).id} are not faked`);
  }
  async top(ref: string) {
    this.find(ref);
    return { Titles: ['PID', 'CMD'], Processes: [['1', 'sleep']] };
  }
  async changes(ref: string) {
    this.find(ref);
    return [{ Path: '/tmp', Kind: 0 as const }];
  }
  async export(ref: string): Promise<Readable> {
    this.find(ref);
    return Readable.from([Buffer.alloc(1024)]);
  }
  async archiveStat(ref: string, path: string) {
    this.find(ref);
    return { name: path.split('/').pop() ?? '', size: 3, mode: 0o644, mtime: '2024-01-01T00:00:00Z', linkTarget: '' };
  }
  async archiveGet(ref: string, path: string) {
    return { stat: await this.archiveStat(ref, path), tar: Readable.from([Buffer.alloc(1024)]) };
  }
  async archivePut(ref: string, tar: Readable): Promise<void> {
    this.find(ref);
    for await (const _chunk of tar) void _chunk;
  }
  async pause(ref: string): Promise<void> {
    this.find(ref);
  }
  async unpause(ref: string): Promise<void> {
    this.find(ref);
  }
  async rename(ref: string, newName: string): Promise<void> {
    this.find(ref).name = newName;
  }
  async update(ref: string) {
    this.find(ref);
    return { Warnings: [] };
  }
  async commit(): Promise<{ Id: string }> {
    return { Id: 'sha256:' + 'cd'.repeat(32) };
  }
  async prune() {
    return { ContainersDeleted: [], SpaceReclaimed: 0 };
  }
}

interface FakeExec {
  id: string;
  container: string;
  config: ExecConfig;
  running: boolean;
  exitCode: number | null;
  resizes: [number, number][];
}

export class FakeExecs implements ExecBackend {
  readonly execs = new Map<string, FakeExec>();
  constructor(private readonly containers: FakeContainers) {}

  async create(containerId: string, config: ExecConfig): Promise<{ Id: string }> {
    const c = this.containers.find(containerId);
    if (c.status !== 'running') throw conflict(`Container ${c.id} is not running`);
    const id = `e${this.execs.size + 1}`.padEnd(64, '0');
    this.execs.set(id, { id, container: c.id, config, running: false, exitCode: null, resizes: [] });
    return { Id: id };
  }

  /** While set, starts answer their headers and then wait on it before the "process" runs. */
  processGate?: Promise<void>;

  async start(execId: string, opts: { detach: boolean; tty: boolean }, accept?: AcceptStream): Promise<AttachSession | undefined> {
    const e = this.get(execId);
    if (!opts.detach) await accept?.(opts.tty);
    await this.processGate;
    if (e.config.Cmd[0] === 'nosuchcmd') {
      e.exitCode = 126;
      throw new Error('OCI runtime exec failed: exec: "nosuchcmd": executable file not found in $PATH: unknown');
    }
    e.running = true;
    const finish = (code: number) => {
      e.running = false;
      e.exitCode = code;
    };
    if (opts.detach) {
      finish(0);
      return undefined;
    }
    const session = new FakeSession(opts.tty, Boolean(e.config.AttachStdin));
    const [cmd, ...args] = e.config.Cmd;
    if (cmd === 'cat' && session.stdin) {
      session.stdin.on('data', (d: Buffer) => session.write('stdout', d.toString()));
      session.stdin.on('end', () => {
        finish(0);
        session.output.end();
      });
    } else {
      setImmediate(() => {
        session.write('stdout', args.join(' ') + '\n');
        session.write('stderr', 'to stderr\n');
        finish(3);
        session.output.end();
      });
    }
    return session;
  }

  async resize(execId: string, h: number, w: number): Promise<void> {
    this.get(execId).resizes.push([h, w]);
  }

  async inspect(execId: string): Promise<ExecInspect> {
    const e = this.get(execId);
    return {
      CanRemove: false,
      DetachKeys: '',
      ID: e.id,
      Running: e.running,
      ExitCode: e.exitCode,
      ProcessConfig: { privileged: false, user: '', tty: Boolean(e.config.Tty), entrypoint: e.config.Cmd[0] ?? '', arguments: e.config.Cmd.slice(1) },
      OpenStdin: Boolean(e.config.AttachStdin),
      OpenStderr: true,
      OpenStdout: true,
      ContainerID: e.container,
      Pid: 99,
    };
  }

  private get(id: string): FakeExec {
    const e = this.execs.get(id);
    if (!e) throw notFound(`No such exec instance: ${id}`);
    return e;
  }
}

export class FakeImages implements ImagesBackend {
  async list() {
    return [];
  }
  async inspect(name: string): Promise<never> {
    throw notFound(`No such image: ${name}`);
  }
  async history(name: string): Promise<never> {
    throw notFound(`No such image: ${name}`);
  }
  async tag(): Promise<void> {}
  async remove(name: string) {
    return [{ Untagged: name }];
  }
  async save(names: string[]): Promise<Readable> {
    if (names.includes('missing')) throw notFound('No such image: missing');
    return Readable.from([Buffer.from(`tar of ${names.join(',')}`)]);
  }
  async *load(tar: Readable) {
    let size = 0;
    for await (const chunk of tar) size += (chunk as Buffer).length;
    yield { stream: `Loaded image: fake:${size}\n` };
  }
  async *import() {
    yield { status: 'sha256:' + 'ef'.repeat(32) };
  }
  async *pull(opts: { fromImage: string }): AsyncGenerator<{ status: string }> {
    if (opts.fromImage === 'unreachable') throw notFound('pull access denied for unreachable');
    yield { status: `Pulling from library/${opts.fromImage}` };
    throw notImplemented('registries are not supported yet');
  }
  async *push(): AsyncGenerator<never> {
    throw notImplemented('push is not supported yet');
  }
  async prune() {
    return { ImagesDeleted: [], SpaceReclaimed: 0 };
  }
}

export class FakeSystem implements SystemBackend {
  readonly pastEvents: EventMessage[] = [];
  private shutdownCallbacks: (() => void)[] = [];
  async ping(): Promise<void> {}
  async version(): Promise<SystemVersion> {
    return {
      Platform: { Name: 'Berth' },
      Components: [{ Name: 'Engine', Version: '0.1.0' }],
      Version: '0.1.0',
      ApiVersion: 'x',
      MinAPIVersion: 'x',
      GitCommit: 'fake',
      GoVersion: 'node',
      Os: 'linux',
      Arch: 'amd64',
      KernelVersion: '6.1',
      BuildTime: '2024-01-01T00:00:00Z',
    };
  }
  async info(): Promise<SystemInfo> {
    return { ID: 'fake', Containers: 0, ServerVersion: '0.1.0', OSType: 'linux' } as SystemInfo;
  }
  async *events(opts: { signal: AbortSignal }): AsyncGenerator<EventMessage> {
    for (const e of this.pastEvents) yield e;
    await new Promise<void>((resolve) => opts.signal.addEventListener('abort', () => resolve(), { once: true }));
  }
  async df() {
    return { LayersSize: 0, Images: [], Containers: [], Volumes: [], BuildCache: [] };
  }
  onShutdown(callback: () => void): void {
    this.shutdownCallbacks.push(callback);
  }
  shutdown(): void {
    for (const cb of this.shutdownCallbacks) cb();
  }
}

export function fakeBackends(): Backends & { containers: FakeContainers; exec: FakeExecs; system: FakeSystem } {
  const containers = new FakeContainers();
  return { containers, exec: new FakeExecs(containers), images: new FakeImages(), system: new FakeSystem() };
}
