import type { JsonStreamMessage } from '../../client/types';
import { progressString, type ProgressDetail } from '../../util/json-progress';

/** Where the renderer writes, and whether that is a terminal (its width drawn from `columns`). */
export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

const ESC = '\x1b[';

/**
 * The docker CLI's JSON-progress display (moby's jsonmessage.DisplayJSONMessagesStream), for
 * pull, push, load and import. On a terminal each item (a layer id) keeps one line, redrawn
 * in place with its bar (`[=====>   ] 12.3MB/45.6MB`) sized to the terminal; elsewhere each
 * message is a plain line, and byte-count updates are left out. A line without an id ends
 * the current group, so a later group (pull -a's next tag) starts below it.
 */
export class JsonProgressRenderer {
  /** Line of each id in the current group, counted from its first line. */
  private lines = new Map<string, number>();

  constructor(private readonly out: ProgressOutput) {}

  private get terminal(): boolean {
    return this.out.isTTY === true;
  }

  /** Draws one message. Errors and aux messages are the caller's (they are not drawn). */
  render(message: JsonStreamMessage): void {
    const hasProgress = message.progressDetail !== undefined && message.progressDetail !== null;
    let diff = 0;
    if (message.id && (hasProgress || message.progress)) {
      let line = this.lines.get(message.id);
      if (line === undefined) {
        line = this.lines.size;
        this.lines.set(message.id, line);
        if (this.terminal) this.out.write('\n');
      }
      diff = this.lines.size - line;
      if (this.terminal && diff > 0) this.out.write(`${ESC}${diff}A`);
    } else {
      this.lines = new Map();
    }
    this.display(message, hasProgress);
    if (message.id && this.terminal && diff > 0) this.out.write(`${ESC}${diff}B`);
  }

  /** jsonmessage.JSONMessage.Display. */
  private display(message: JsonStreamMessage, hasProgress: boolean): void {
    const detail = (message.progressDetail ?? {}) as ProgressDetail;
    let endl = '';
    if (this.terminal && !message.stream && hasProgress) {
      endl = '\r';
      this.out.write(`${ESC}2K\r`);
    } else if (hasProgress && progressString(detail) !== '') {
      return; // a byte count: no bar without a terminal
    }
    let text = message.id ? `${message.id}: ` : '';
    const status = message.status ?? '';
    if (hasProgress && this.terminal) text += `${status} ${progressString(detail, this.out.columns ?? 200)}${endl}`;
    else if (message.progress) text += `${status} ${message.progress}${endl}`;
    else if (message.stream) text += `${message.stream}${endl}`;
    else text += `${status}${endl}\n`;
    this.out.write(text);
  }
}
