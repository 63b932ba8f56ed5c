import type { JsonStreamMessage } from '../../api/types/common';

export interface ProgressSink {
  write(text: string): void;
  isTTY: boolean;
}

interface Step {
  label: string;
  startedAt: number;
  cached: boolean;
  /** The step's label was printed as a heading because output followed it. */
  headed: boolean;
}

const STEP = /^Step (\d+)\/(\d+) : ([\s\S]*)$/;
const DONE = /^ ---> ([0-9a-f]{12})\n$/;
const COLOR = /\u001b\[[0-9;]*m/g;

/**
 * Draws the classic builder's message stream (berth's or dockerd's) as `berth build` shows
 * it: one line per step with its cache status and duration, RUN output as it comes, then the
 * image ID and tags. On a terminal the step line is drawn when the step starts and completed
 * in place; plain mode (no TTY, or --progress plain) writes it once the step is done, with a
 * heading before any output, and no colors.
 */
export class BuildProgress {
  private step: Step | undefined;
  private atLineStart = true;
  imageId: string | undefined;
  readonly tags: string[] = [];
  private readonly startedAt: number;

  constructor(
    private readonly out: ProgressSink,
    private readonly tty: boolean,
    private readonly now: () => number = Date.now,
  ) {
    this.startedAt = now();
  }

  message(m: JsonStreamMessage): void {
    const aux = m.aux as { ID?: unknown } | undefined;
    if (aux && typeof aux.ID === 'string') this.imageId = aux.ID;
    if (typeof m.stream !== 'string') return;
    const text = m.stream;
    const step = STEP.exec(text);
    if (step) {
      this.endStep();
      this.step = { label: `[${step[1]}/${step[2]}] ${step[3]!.trim()}`, startedAt: this.now(), cached: false, headed: false };
      if (this.tty) {
        this.out.write(this.step.label);
        this.atLineStart = false;
      }
      return;
    }
    if (text === '\n' && this.step && !this.step.headed) return;
    if (text === ' ---> Using cache\n') {
      if (this.step) this.step.cached = true;
      return;
    }
    if (text.startsWith(' ---> Running in ') || text.startsWith('Removing intermediate container ')) return;
    if (DONE.test(text)) {
      this.endStep();
      return;
    }
    const built = /^Successfully built ([0-9a-f]+)\n$/.exec(text);
    if (built) {
      this.imageId ??= built[1];
      return;
    }
    const tagged = /^Successfully tagged (.+)\n$/.exec(text);
    if (tagged) {
      this.tags.push(tagged[1]!);
      return;
    }
    this.output(text);
  }

  /** The summary once the stream ended well. */
  finish(): void {
    this.endStep();
    const seconds = ((this.now() - this.startedAt) / 1000).toFixed(2);
    if (this.imageId) this.line(`Built ${this.imageId} in ${seconds}s\n`);
    for (const tag of this.tags) this.line(`Tagged ${tag}\n`);
  }

  /** After a failure: the open step's line ends, so the error starts on a line of its own. */
  abort(): void {
    if (!this.atLineStart) this.out.write('\n');
    this.atLineStart = true;
    this.step = undefined;
  }

  private output(text: string): void {
    const shown = this.tty ? text : text.replace(COLOR, '');
    if (shown === '') return;
    if (this.step && !this.step.headed) {
      this.step.headed = true;
      if (!this.tty) this.line(`${this.step.label}\n`);
      else if (!this.atLineStart) this.out.write('\n');
      this.atLineStart = true;
    }
    this.out.write(shown);
    // A color reset after the last newline (docker's red stderr) leaves the cursor at a line start.
    this.atLineStart = shown.replace(COLOR, '').endsWith('\n');
  }

  private endStep(): void {
    const step = this.step;
    if (!step) return;
    this.step = undefined;
    const status = step.cached ? 'CACHED' : `${((this.now() - step.startedAt) / 1000).toFixed(2)}s`;
    if (this.tty && !step.headed) {
      this.out.write(`\r\u001b[K${step.label}  ${status}\n`);
    } else {
      this.line(`${step.label}  ${status}\n`);
    }
    this.atLineStart = true;
  }

  private line(text: string): void {
    if (!this.atLineStart) this.out.write('\n');
    this.out.write(text);
    this.atLineStart = true;
  }
}
