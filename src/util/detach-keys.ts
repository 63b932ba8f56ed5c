/** Parses docker's --detach-keys ("ctrl-p,ctrl-q", "a,ctrl-@") into the byte sequence. */
export function parseDetachKeys(spec: string): Buffer {
  const bytes: number[] = [];
  for (const key of spec.split(',')) {
    const lower = key.trim().toLowerCase();
    if (lower.length === 1) {
      bytes.push(lower.charCodeAt(0));
      continue;
    }
    const match = /^ctrl-([a-z@\[\\\]^_])$/.exec(lower);
    if (!match) throw new Error(`Invalid escape keys (${spec}) provided`);
    const ch = match[1]!;
    bytes.push(ch >= 'a' && ch <= 'z' ? ch.charCodeAt(0) - 96 : ch.toUpperCase().charCodeAt(0) - 64);
  }
  return Buffer.from(bytes);
}

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/** Watches input for the detach sequence across chunk boundaries. */
export class DetachWatcher {
  private matched = 0;

  constructor(private readonly sequence: Buffer) {}

  /** True once the whole sequence has been seen. */
  feed(chunk: Buffer): boolean {
    for (const byte of chunk) {
      if (byte === this.sequence[this.matched]) {
        this.matched++;
        if (this.matched === this.sequence.length) return true;
      } else {
        this.matched = byte === this.sequence[0] ? 1 : 0;
      }
    }
    return false;
  }
}
