import type { BuildEvent } from '../types';

/**
 * Stages run concurrently, but dockerd's classic builder runs them one after another and
 * its stream shows them so: a stage's events pass through while every stage before it has
 * finished, and are held until then otherwise. Events of no stage (warnings) pass at once.
 */
export class StageOrderedEvents {
  private current = 0;
  private readonly held: BuildEvent[][];
  private readonly done: boolean[];
  private readonly position: Map<string, number>;

  constructor(stageLabels: readonly string[], private readonly out: (event: BuildEvent) => void) {
    this.position = new Map(stageLabels.map((label, i) => [label, i]));
    this.held = stageLabels.map(() => []);
    this.done = stageLabels.map(() => false);
  }

  emit(event: BuildEvent): void {
    const pos = 'stage' in event ? this.position.get(event.stage) : undefined;
    if (pos === undefined || pos <= this.current) this.out(event);
    else this.held[pos].push(event);
  }

  /** The stage at `pos` ended (either way): the next ones' held events follow. */
  finish(pos: number): void {
    this.done[pos] = true;
    while (this.current < this.done.length && this.done[this.current]) {
      this.current++;
      if (this.current < this.held.length) for (const e of this.held[this.current].splice(0)) this.out(e);
    }
  }

  /** Whatever is still held (a failed build), in stage order. */
  flush(): void {
    for (let i = this.current; i < this.held.length; i++) for (const e of this.held[i].splice(0)) this.out(e);
    this.current = this.held.length;
  }
}
