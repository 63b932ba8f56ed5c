import { invalidArgument } from '../../errors';

/** Linux signal numbers (x86/arm generic), by name without the SIG prefix. */
export const SIGNALS: Readonly<Record<string, number>> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, IOT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10, SEGV: 11,
  USR2: 12, PIPE: 13, ALRM: 14, TERM: 15, STKFLT: 16, CHLD: 17, CONT: 18, STOP: 19, TSTP: 20, TTIN: 21,
  TTOU: 22, URG: 23, XCPU: 24, XFSZ: 25, VTALRM: 26, PROF: 27, WINCH: 28, IO: 29, POLL: 29, PWR: 30, SYS: 31,
  RTMIN: 34, RTMAX: 64,
};

const MAX_SIGNAL = 64;

/**
 * Parses a signal the way Docker does: "SIGTERM", "TERM", "term", "15", "RTMIN+3".
 * Unknown names and out-of-range numbers → InvalidArgument "Invalid signal: X".
 */
export function parseSignal(raw: string | number): number {
  const text = String(raw).trim();
  if (/^[0-9]+$/.test(text)) {
    const n = Number(text);
    if (n < 1 || n > MAX_SIGNAL) throw invalidArgument(`Invalid signal: ${text}`);
    return n;
  }
  const name = text.toUpperCase().replace(/^SIG/, '');
  const rt = /^RTM(IN|AX)([+-])([0-9]+)$/.exec(name);
  if (rt) {
    const base = rt[1] === 'IN' ? SIGNALS.RTMIN! : SIGNALS.RTMAX!;
    const n = rt[2] === '+' ? base + Number(rt[3]) : base - Number(rt[3]);
    if (n >= SIGNALS.RTMIN! && n <= SIGNALS.RTMAX!) return n;
    throw invalidArgument(`Invalid signal: ${text}`);
  }
  const n = SIGNALS[name];
  if (n === undefined) throw invalidArgument(`Invalid signal: ${text}`);
  return n;
}
