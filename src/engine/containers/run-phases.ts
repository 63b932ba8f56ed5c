import type { Logger } from '../../util/logger';

/** At most this many containers' phases are kept (a container never removed must not grow the map). */
const MAX_TRACKED = 64;

/**
 * Where a container's run goes, for the debug log: the milliseconds since its create (or
 * its start) at each phase of create → start → exit → removal, logged once when it is
 * removed (`run phases`). Marks cost a `performance.now()`; nothing is kept past removal.
 */
export class RunPhases {
  private readonly runs = new Map<string, { started: number; marks: Array<[string, number]> }>();

  /** The first phase of a run: create, or a start of a container created earlier. */
  begin(id: string, phase: string): void {
    if (this.runs.size >= MAX_TRACKED) this.runs.delete(this.runs.keys().next().value!);
    this.runs.set(id, { started: performance.now(), marks: [[phase, 0]] });
  }

  mark(id: string, phase: string): void {
    const run = this.runs.get(id);
    if (run) run.marks.push([phase, Math.round((performance.now() - run.started) * 10) / 10]);
  }

  /** Logs the run's phases (debug) and forgets them. */
  end(id: string, phase: string, logger: Logger): void {
    this.mark(id, phase);
    const run = this.runs.get(id);
    if (!run) return;
    this.runs.delete(id);
    logger.debug('run phases', { id: id.slice(0, 12), ms: Object.fromEntries(run.marks) });
  }
}
