import { run, type ExecResult } from '../util/exec';

/**
 * The network tools berth runs (iproute2's `ip`, `iptables`, `nsenter`), each bounded by a
 * timeout; failures name the argv and carry stderr (util/exec).
 */
const TIMEOUT_MS = 30_000;

export function ip(args: readonly string[]): Promise<ExecResult> {
  return run('ip', args, { timeoutMs: TIMEOUT_MS });
}

/** `ip -batch -` with one command a line: one process for several changes. */
export function ipBatch(lines: readonly string[], netnsPath?: string): Promise<ExecResult> {
  const argv = ['ip', '-batch', '-'];
  const [file, ...args] = netnsPath ? ['nsenter', `--net=${netnsPath}`, '--', ...argv] : argv;
  return run(file!, args, { timeoutMs: TIMEOUT_MS, input: lines.join('\n') + '\n' });
}

/** iptables with the xtables lock waited for (-w), so concurrent callers do not fail. */
export function iptables(args: readonly string[], options: { allowFailure?: boolean } = {}): Promise<ExecResult> {
  return run('iptables', ['-w', ...args], { timeoutMs: TIMEOUT_MS, allowFailure: options.allowFailure });
}

/** `iptables-save` of every table: berth's chains and rules, read in one process. */
export function iptablesSave(): Promise<ExecResult> {
  return run('iptables-save', [], { timeoutMs: TIMEOUT_MS, allowFailure: true });
}
