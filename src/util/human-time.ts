/** Docker's human time texts, shared by the engine (ps Status) and the CLI. */

/** go-units HumanDuration: "Less than a second", "About a minute", "3 hours", ... */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(ms / 3_600_000 / 24 / 365)} years`;
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

function isZeroTime(value: string | undefined): boolean {
  return !value || value.startsWith('0001-01-01');
}

export interface StateForStatus {
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  Dead: boolean;
  ExitCode: number;
  StartedAt: string;
  FinishedAt: string;
  Health?: { Status: string };
  RemovalInProgress?: boolean;
}

/** moby's State.String(): "Up 3 seconds", "Exited (0) 2 minutes ago", "Created", ... */
export function containerStatusText(state: StateForStatus, now = Date.now()): string {
  const since = (iso: string) => humanDuration(now - Date.parse(iso));
  if (state.Running) {
    if (state.Paused) return `Up ${since(state.StartedAt)} (Paused)`;
    if (state.Restarting) return `Restarting (${state.ExitCode}) ${since(state.FinishedAt)} ago`;
    if (state.Health && state.Health.Status !== 'none') return `Up ${since(state.StartedAt)} (${state.Health.Status === 'starting' ? 'health: starting' : state.Health.Status})`;
    return `Up ${since(state.StartedAt)}`;
  }
  if (state.RemovalInProgress) return 'Removal In Progress';
  if (state.Dead) return 'Dead';
  if (isZeroTime(state.StartedAt)) return 'Created';
  if (isZeroTime(state.FinishedAt)) return '';
  return `Exited (${state.ExitCode}) ${since(state.FinishedAt)} ago`;
}

export { ZERO_TIME };
