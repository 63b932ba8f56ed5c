import { setTimeout as sleep } from 'node:timers/promises';
import { messageOf } from '../../errors';
import { isLive, type ContainerRecord } from '../../metadata/containers';
import type { HealthLogEntry } from '../../api/types/containers';
import type { Logger } from '../../util/logger';
import type { OutputChunk } from '../../util/stdio-streams';
import type { EventBus } from '../events/event-bus';
import type { ExecService } from '../exec/exec-service';
import type { Container, ContainerService } from '../containers/container-service';
import { nowRfc3339 } from '../containers/container-context';
import { goDuration, probeSettings, type ProbeSettings } from './health-config';
import { applyProbeResult, healthAtStart, MAX_OUTPUT_BYTES, nextIntervalMs } from './health-state';

export interface HealthMonitorDeps {
  containers: ContainerService;
  execs: ExecService;
  events: EventBus;
  logger: Logger;
}

/**
 * Runs the HEALTHCHECK probes of running containers, as moby's daemon/health.go: one loop per
 * container from its start to its exit, each probe an exec in the container (so exec events
 * follow, as dockerd's), the result kept in State.Health (saved with the record, so inspect,
 * ps and a restarted daemon see it) and a `health_status: <status>` event on every change.
 */
export class HealthMonitor {
  private readonly loops = new Map<string, AbortController>();
  private unlisten?: () => void;

  constructor(private readonly deps: HealthMonitorDeps) {}

  /** Follows starts and exits from now on, and resumes the probes of the containers running now (a daemon restart). */
  async start(): Promise<void> {
    this.unlisten = this.deps.events.listen((event) => {
      if (event.Type !== 'container') return;
      if (event.Action === 'start') this.watch(event.Actor.ID);
      else if (event.Action === 'die') void this.stopped(event.Actor.ID);
      else if (event.Action === 'destroy') this.unwatch(event.Actor.ID);
    });
    for (const container of this.deps.containers.list()) {
      if (!isLive(container) || !probeSettings(container.Config)) continue;
      // As moby's restore (initHealthMonitor): starting again, the log kept.
      await this.update(container.Id, (c) => (isLive(c) ? healthAtStart(c.State.Health) : undefined)).catch((err: unknown) =>
        this.deps.logger.warn('health state not reset', { container: container.Id, error: messageOf(err) }),
      );
      this.watch(container.Id);
    }
  }

  /** Daemon shutdown: every loop ends (the probes resume at the next start). */
  stop(): void {
    this.unlisten?.();
    for (const id of [...this.loops.keys()]) this.unwatch(id);
  }

  private watch(id: string): void {
    this.unwatch(id);
    const container = this.deps.containers.find(id);
    const settings = container && probeSettings(container.Config);
    if (!container || !settings) return;
    const abort = new AbortController();
    this.loops.set(id, abort);
    void this.loop(id, settings, container.State.StartedAt, abort.signal).catch((err: unknown) => {
      if (!abort.signal.aborted) this.deps.logger.error('health check loop failed', { container: id, error: messageOf(err) });
    });
  }

  private unwatch(id: string): void {
    this.loops.get(id)?.abort();
    this.loops.delete(id);
  }

  /** At exit the probes stop and the status turns unhealthy, as moby's CloseMonitorChannel does. */
  private async stopped(id: string): Promise<void> {
    if (!this.loops.has(id)) return;
    this.unwatch(id);
    await this.update(id, (c) => (!isLive(c) && c.State.Health ? { ...c.State.Health, Status: 'unhealthy' } : undefined)).catch(() => undefined);
  }

  private async loop(id: string, settings: ProbeSettings, startedAt: string, signal: AbortSignal): Promise<void> {
    for (;;) {
      const health = this.deps.containers.find(id)?.State.Health;
      await sleep(nextIntervalMs(health, settings, startedAt), undefined, { signal, ref: false });
      const result = await this.probe(id, settings, signal);
      // A probe the container's exit cut short counts for nothing (moby drops it too).
      if (signal.aborted) return;
      await this.update(id, (c) => {
        if (!isLive(c) || signal.aborted) return undefined;
        return applyProbeResult(c.State.Health ?? healthAtStart(undefined), result, settings, c.State.StartedAt);
      });
    }
  }

  /** Runs one probe through the exec path: both output streams (the first 4 KiB), the exit code, killed past the timeout. */
  private async probe(id: string, settings: ProbeSettings, signal: AbortSignal): Promise<HealthLogEntry> {
    const Start = nowRfc3339();
    let execId: string | undefined;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (execId) this.deps.execs.kill(execId);
    }, settings.timeoutMs);
    const onAbort = () => execId && this.deps.execs.kill(execId);
    signal.addEventListener('abort', onAbort);
    try {
      const container = this.deps.containers.get(id);
      execId = this.deps.execs.create(id, {
        Cmd: settings.command,
        User: container.Config.User ?? '',
        WorkingDir: container.Config.WorkingDir ?? '',
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
      }).Id;
      const session = await this.deps.execs.start(execId, { detach: false, tty: false });
      if (timedOut) this.deps.execs.kill(execId);
      const output = collectOutput(session?.output);
      const exitCode = await this.deps.execs.exitCode(execId);
      const text = await output;
      if (timedOut) return { Start, End: nowRfc3339(), ExitCode: -1, Output: `Health check exceeded timeout (${goDuration(settings.timeoutMs)})` };
      return { Start, End: nowRfc3339(), ExitCode: exitCode, Output: text };
    } catch (err) {
      // moby records a probe that could not run as exit -1 with the error as output.
      return { Start, End: nowRfc3339(), ExitCode: -1, Output: messageOf(err) };
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Sets State.Health under the container's lock (`next` undefined: no change), with the event on a new status. */
  private async update(id: string, next: (c: Container) => Container['State']['Health'] | undefined): Promise<void> {
    await this.deps.containers.withLocked(id, async (container) => {
      const old = container.State.Health;
      const health = next(container);
      if (!health) return;
      container.State = { ...container.State, Health: health };
      // Not fsynced: a probe result lost to a power cut is the next probe's to redo.
      await this.deps.containers.store.save(container as ContainerRecord, { durable: false });
      if (health.Status !== old?.Status && health.Status !== 'starting' && isLive(container)) {
        this.deps.events.publish('container', `health_status: ${health.Status}`, id, this.deps.containers.eventAttributes(container));
      }
    });
  }
}

/** The probe's stdout and stderr together, as moby's limited buffer keeps them (the first 4 KiB). */
async function collectOutput(output: NodeJS.ReadableStream | undefined): Promise<string> {
  if (!output) return '';
  const kept: Buffer[] = [];
  let size = 0;
  for await (const chunk of output as AsyncIterable<OutputChunk>) {
    if (size >= MAX_OUTPUT_BYTES) continue;
    const data = chunk.data.subarray(0, MAX_OUTPUT_BYTES - size);
    kept.push(data);
    size += data.length;
  }
  return Buffer.concat(kept).toString('utf8');
}
