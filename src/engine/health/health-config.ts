import type { HealthConfig } from '../../api/types/containers';

/** moby's defaults (daemon/health.go): a probe every 30 s, 30 s to answer, 3 failures in a row make it unhealthy. */
export const DEFAULT_INTERVAL_MS = 30_000;
export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_START_INTERVAL_MS = 5_000;
export const DEFAULT_RETRIES = 3;

/** How a container is probed, with moby's defaults filled in. */
export interface ProbeSettings {
  /** The command run in the container (CMD-SHELL already wrapped in the shell). */
  command: string[];
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  startIntervalMs: number;
  retries: number;
}

const nsToMs = (ns: number | undefined, fallback: number): number => (ns && ns > 0 ? ns / 1_000_000 : fallback);

/**
 * The probe of a container's config, or undefined when it has none: no Healthcheck, an empty
 * Test, or NONE. CMD-SHELL runs through the config's Shell (`/bin/sh -c` by default), as moby does.
 */
export function probeSettings(config: { Healthcheck?: HealthConfig | null; Shell?: string[] | null }): ProbeSettings | undefined {
  const health = config.Healthcheck;
  const test = health?.Test ?? [];
  if (!health || test.length === 0) return undefined;
  let command: string[];
  switch (test[0]) {
    case 'CMD':
      command = test.slice(1);
      break;
    case 'CMD-SHELL':
      command = [...(config.Shell && config.Shell.length > 0 ? config.Shell : ['/bin/sh', '-c']), test.slice(1).join(' ')];
      break;
    default:
      // NONE, and anything moby does not know, runs no probe.
      return undefined;
  }
  if (command.length === 0) return undefined;
  return {
    command,
    intervalMs: nsToMs(health.Interval, DEFAULT_INTERVAL_MS),
    timeoutMs: nsToMs(health.Timeout, DEFAULT_TIMEOUT_MS),
    startPeriodMs: nsToMs(health.StartPeriod, 0),
    startIntervalMs: nsToMs(health.StartInterval, DEFAULT_START_INTERVAL_MS),
    retries: health.Retries && health.Retries > 0 ? health.Retries : DEFAULT_RETRIES,
  };
}

/**
 * A create request's Healthcheck with the image's filling what the request leaves unset,
 * as moby's merge does (an empty Test takes the image's test, zero durations its durations).
 */
export function mergeHealthcheck(request: HealthConfig | null | undefined, image: HealthConfig | null | undefined): HealthConfig | undefined {
  if (!request) return image ?? undefined;
  if (!image) return request;
  return {
    ...request,
    Test: request.Test && request.Test.length > 0 ? request.Test : image.Test,
    Interval: request.Interval || image.Interval || 0,
    Timeout: request.Timeout || image.Timeout || 0,
    StartPeriod: request.StartPeriod || image.StartPeriod || 0,
    StartInterval: request.StartInterval || image.StartInterval || 0,
    Retries: request.Retries || image.Retries || 0,
  };
}

/** Go's time.Duration.String() for whole milliseconds ("500ms", "1s", "1m30s", "1.5s"), as moby's timeout message has it. */
export function goDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1000) return `${ms}ms`;
  let rest = ms;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = (rest / 1000).toFixed(3).replace(/\.?0+$/, '');
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}
