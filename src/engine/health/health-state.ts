import type { Health, HealthLogEntry } from '../../api/types/containers';

/** moby keeps the last 5 probes (maxLogEntries). */
export const MAX_LOG_ENTRIES = 5;
/** moby keeps the first 4 KiB of a probe's output (maxOutputLen). */
export const MAX_OUTPUT_BYTES = 4096;

/** The health a (re)started container begins with: starting, no streak, the old log kept (moby's initHealthMonitor). */
export function healthAtStart(previous: Health | undefined): Health {
  return { Status: 'starting', FailingStreak: 0, Log: previous?.Log ?? [] };
}

/**
 * One probe's result applied as moby's handleProbeResult does: exit 0 is healthy and clears
 * the streak; any other result counts towards the streak, except while the container is still
 * starting within its start period; `retries` failures in a row make it unhealthy.
 */
export function applyProbeResult(health: Health, result: HealthLogEntry, settings: { retries: number; startPeriodMs: number }, startedAt: string): Health {
  const Log = [...health.Log, result].slice(-MAX_LOG_ENTRIES);
  if (result.ExitCode === 0) return { Status: 'healthy', FailingStreak: 0, Log };
  if (health.Status === 'starting' && Date.parse(result.Start) - Date.parse(startedAt) < settings.startPeriodMs) {
    return { ...health, Log };
  }
  const FailingStreak = health.FailingStreak + 1;
  return { Status: FailingStreak >= settings.retries ? 'unhealthy' : health.Status, FailingStreak, Log };
}

/** The interval before the next probe: the start interval while starting within the start period (moby's getInterval). */
export function nextIntervalMs(health: Health | undefined, settings: { intervalMs: number; startPeriodMs: number; startIntervalMs: number }, startedAt: string, now = Date.now()): number {
  if (now - Date.parse(startedAt) >= settings.startPeriodMs) return settings.intervalMs;
  return health?.Status === 'starting' ? settings.startIntervalMs : settings.intervalMs;
}
