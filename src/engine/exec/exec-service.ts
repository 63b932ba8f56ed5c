import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { conflict, invalidArgument, notFound, messageOf } from '../../errors';
import type { ExecProcess } from '../../runtime/task/types';
import { processUser, resolveUser } from '../../runtime/user/resolve-user';
import type { OciProcess } from '../../runtime/spec/oci-types';
import type { ContainerService } from '../containers/container-service';
import type { Container } from '../containers/container-context';
import { MonitorAttachSession, parseDetachKeys } from '../containers/attach';
import { replaceOrAppendEnv } from '../containers/create-config';
import type { AttachSession } from '../../util/stdio-streams';
import type { EventBus } from '../events/event-bus';
import type { Logger } from '../../util/logger';
import type { ExecConfig } from '../../api/types/exec';

interface ExecRecord {
  id: string;
  containerId: string;
  config: ExecConfig;
  running: boolean;
  started: boolean;
  exitCode: number | null;
  pid: number;
  /** Set while the process runs. */
  process?: ExecProcess;
  /** Settles when a start under way has the process running or has failed. */
  launching?: Promise<void>;
  /** Settles with the exit code once the started process has exited. */
  exited?: Promise<number>;
}

const EXEC_KEEP_AFTER_EXIT_MS = 5 * 60 * 1000;

/**
 * `docker exec`: processes started inside a running container through `runc exec`, each
 * under its own monitor. Exec records live in memory, as in Docker.
 */
export class ExecService {
  private readonly execs = new Map<string, ExecRecord>();

  constructor(
    private readonly deps: { containers: ContainerService; events: EventBus; logger: Logger },
  ) {}

  create(containerRef: string, config: ExecConfig): { Id: string } {
    const container = this.deps.containers.get(containerRef);
    if (container.State.Status === 'paused') throw conflict(`Container ${container.Id} is paused, unpause the container before exec`);
    if (container.State.Status !== 'running') throw conflict(`Container ${container.Id} is not running`);
    if (!config.Cmd || config.Cmd.length === 0) throw invalidArgument('No exec command specified');
    if (config.DetachKeys) {
      try {
        parseDetachKeys(config.DetachKeys);
      } catch (err) {
        throw invalidArgument(messageOf(err));
      }
    }
    const id = randomBytes(32).toString('hex');
    this.execs.set(id, { id, containerId: container.Id, config, running: false, started: false, exitCode: null, pid: 0 });
    this.deps.events.publish('container', `exec_create: ${config.Cmd.join(' ')}`, container.Id, { ...this.deps.containers.eventAttributes(container), execID: id });
    return { Id: id };
  }

  private get(id: string): ExecRecord {
    const exec = this.execs.get(id);
    if (!exec) throw notFound(`No such exec instance: ${id}`);
    return exec;
  }

  /**
   * Starts the exec; returns the attach session unless detached. `accept` runs once the start
   * is valid and before the process is made (the API answers its headers there); when it
   * fails, the exec stays startable.
   */
  async start(
    id: string,
    options: { detach?: boolean; tty?: boolean; consoleSize?: [number, number] },
    accept?: (tty: boolean) => Promise<void>,
  ): Promise<AttachSession | undefined> {
    const exec = this.get(id);
    if (exec.started) throw conflict(`Exec instance ${id} has already been started`);
    const container = this.deps.containers.get(exec.containerId);
    if (container.State.Status !== 'running') throw conflict(`Container ${container.Id} is not running`);
    exec.started = true;
    const tty = options.tty ?? Boolean(exec.config.Tty);
    if (!options.detach && accept) {
      try {
        await accept(tty);
      } catch (err) {
        exec.started = false;
        throw err;
      }
    }
    const launching = this.launch(exec, container, tty, options);
    exec.launching = launching.then(
      () => undefined,
      () => undefined,
    );
    try {
      return await launching;
    } catch (err) {
      // dockerd reports 126 for every exec that could not start (127 is `run`'s not-found code).
      exec.exitCode = 126;
      throw err;
    } finally {
      exec.launching = undefined;
    }
  }

  private async launch(exec: ExecRecord, container: Container, tty: boolean, options: { detach?: boolean; consoleSize?: [number, number] }): Promise<AttachSession | undefined> {
    const id = exec.id;
    const process = await this.processSpec(exec, tty);
    if (tty && options.consoleSize) process.consoleSize = { height: options.consoleSize[0], width: options.consoleSize[1] };
    const task = this.deps.containers.task(container.Id);
    const execProcess = await task.exec(id, process, { tty, openStdin: Boolean(exec.config.AttachStdin) });
    let session: MonitorAttachSession | undefined;
    try {
      if (!options.detach) {
        session = new MonitorAttachSession(tty, {
          stdin: Boolean(exec.config.AttachStdin),
          stdout: exec.config.AttachStdout !== false,
          stderr: exec.config.AttachStderr !== false,
          closeStdinOnEnd: true,
          detachKeys: tty ? parseDetachKeys(exec.config.DetachKeys || 'ctrl-p,ctrl-q') : undefined,
        });
        session.bind(await execProcess.attach());
      }
      exec.pid = (await execProcess.start()).pid;
    } catch (err) {
      session?.finish();
      await execProcess.delete().catch(() => undefined);
      throw err;
    }
    exec.process = execProcess;
    exec.running = true;
    this.deps.events.publish('container', `exec_start: ${(exec.config.Cmd ?? []).join(' ')}`, container.Id, { ...this.deps.containers.eventAttributes(container), execID: id });
    const finish = (code: number) => {
      if (!exec.running) return;
      exec.running = false;
      exec.exitCode = code;
      exec.process = undefined;
      void execProcess.delete().catch(() => undefined);
      this.deps.events.publish('container', 'exec_die', container.Id, { ...this.deps.containers.eventAttributes(container), execID: id, exitCode: String(code) });
      setTimeout(() => this.execs.delete(id), EXEC_KEEP_AFTER_EXIT_MS).unref();
    };
    exec.exited = execProcess.wait().then((status) => {
      // The kernel's OOM killer struck the container's cgroup while the exec ran: Docker
      // reports it at once (the container's State.OOMKilled follows at its exit).
      if (status?.oomKilled) this.deps.events.publish('container', 'oom', container.Id, this.deps.containers.eventAttributes(container));
      finish(status?.exitCode ?? 126);
      return status?.exitCode ?? 126;
    });
    return session;
  }

  /** The exit code of a started exec, once its process has exited (health probes wait on it). */
  async exitCode(id: string): Promise<number> {
    const exec = this.get(id);
    if (exec.launching) await exec.launching;
    if (!exec.exited) throw conflict(`Exec ${id} has not been started`);
    return exec.exited;
  }

  /** Kills a running exec's process (a health probe past its timeout, as moby's probe cancel does). */
  kill(id: string): void {
    const exec = this.get(id);
    if (!exec.running || exec.pid <= 0) return;
    try {
      process.kill(exec.pid, 'SIGKILL');
    } catch {
      // It exited meanwhile.
    }
  }

  /** The container's execs that have not exited (ExecIDs): moby drops one from the container on exit, while it stays inspectable. */
  idsFor(containerId: string): string[] {
    return [...this.execs.values()].filter((e) => e.containerId === containerId && e.exitCode === null).map((e) => e.id);
  }

  /**
   * A resize that arrives while the process is being started waits for it, as in moby: the
   * client sends its first resize on seeing the headers, which now come before the process.
   */
  async resize(id: string, height: number, width: number): Promise<void> {
    const exec = this.get(id);
    if (exec.launching) await exec.launching;
    if (!exec.running || !exec.process) throw conflict(`Exec ${id} is not running`);
    exec.process.resize(height, width);
  }

  inspect(id: string): Record<string, unknown> {
    const exec = this.get(id);
    return {
      ID: exec.id,
      Running: exec.running,
      ExitCode: exec.exitCode,
      ProcessConfig: {
        tty: Boolean(exec.config.Tty),
        entrypoint: exec.config.Cmd?.[0] ?? '',
        arguments: exec.config.Cmd?.slice(1) ?? [],
        privileged: Boolean(exec.config.Privileged),
        user: exec.config.User ?? '',
      },
      OpenStdin: Boolean(exec.config.AttachStdin),
      OpenStderr: exec.config.AttachStderr !== false,
      OpenStdout: exec.config.AttachStdout !== false,
      CanRemove: false,
      ContainerID: exec.containerId,
      DetachKeys: exec.config.DetachKeys ?? '',
      Pid: exec.pid,
    };
  }

  /** The exec's OCI process: the container's process settings with the exec's overrides. */
  private async processSpec(exec: ExecRecord, tty: boolean): Promise<OciProcess> {
    const containerDir = this.deps.containers.store.dir(exec.containerId);
    const spec = JSON.parse(await fs.readFile(path.join(containerDir, 'bundle', 'config.json'), 'utf8')) as {
      root: { path: string };
      process: { env?: string[]; user?: unknown; cwd?: string; capabilities?: Record<string, string[]> } & Record<string, unknown>;
    };
    const container = this.deps.containers.get(exec.containerId);
    const userSpec = exec.config.User || container.Config.User || '';
    const user = await resolveUser(spec.root.path, userSpec, container.HostConfig.GroupAdd ?? []);
    const env = replaceOrAppendEnv(spec.process.env ?? [], exec.config.Env ?? []);
    const process: Record<string, unknown> = {
      ...spec.process,
      terminal: tty,
      args: exec.config.Cmd,
      env,
      cwd: exec.config.WorkingDir || spec.process.cwd || '/',
      user: processUser(user),
    };
    delete process.consoleSize;
    if (exec.config.Privileged && spec.process.capabilities) {
      const all = [...new Set(Object.values(spec.process.capabilities).flat())];
      process.capabilities = { bounding: all, effective: all, permitted: all };
    }
    return process as unknown as OciProcess;
  }
}
