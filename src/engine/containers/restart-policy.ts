import { invalidArgument } from '../../errors';
import type { RestartPolicy } from '../../api/types/containers';

/**
 * Docker's restart policies. After an exit the container is started again unless:
 * the policy is "no"; the user stopped or killed it; "on-failure" and it exited with 0 or
 * used up MaximumRetryCount. The delay doubles from 100 ms (capped at one minute) and
 * starts over when the container ran for at least 10 seconds.
 */
export type PolicyName = 'no' | 'always' | 'unless-stopped' | 'on-failure';

export function validateRestartPolicy(policy: RestartPolicy | undefined): void {
  const name = policy?.Name ?? '';
  if (!['', 'no', 'always', 'unless-stopped', 'on-failure'].includes(name)) {
    throw invalidArgument(`invalid restart policy '${name}'`);
  }
  const max = policy?.MaximumRetryCount ?? 0;
  if (max < 0) throw invalidArgument('invalid restart policy: maximum retry count cannot be negative');
  if (max > 0 && name !== 'on-failure') throw invalidArgument(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
}

export interface ExitFacts {
  exitCode: number;
  manuallyStopped: boolean;
  restartCount: number;
  /** How long the run that just ended lasted. */
  ranForMs: number;
}

const INITIAL_DELAY_MS = 100;
const MAX_DELAY_MS = 60_000;
const RESET_AFTER_MS = 10_000;

/** The delay before the next start, or undefined when the container stays stopped. */
export function restartDelay(policy: RestartPolicy | undefined, facts: ExitFacts, previousDelayMs: number): number | undefined {
  const name = (policy?.Name || 'no') as PolicyName;
  if (name === 'no' || facts.manuallyStopped) return undefined;
  if (name === 'on-failure') {
    if (facts.exitCode === 0) return undefined;
    const max = policy?.MaximumRetryCount ?? 0;
    if (max > 0 && facts.restartCount >= max) return undefined;
  }
  if (facts.ranForMs >= RESET_AFTER_MS || previousDelayMs === 0) return INITIAL_DELAY_MS;
  return Math.min(previousDelayMs * 2, MAX_DELAY_MS);
}

/** Whether the daemon starts the container when it itself starts. */
export function startsWithDaemon(policy: RestartPolicy | undefined, manuallyStopped: boolean): boolean {
  const name = policy?.Name || 'no';
  return name === 'always' || (name === 'unless-stopped' && !manuallyStopped);
}
