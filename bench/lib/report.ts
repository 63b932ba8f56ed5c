/** One line of the results table. Times in ms, memory in MB; lower is better for all. */
export interface BenchRow {
  benchmark: string;
  unit: 'ms' | 'MB';
  berth: number;
  docker?: number;
  podman?: number;
  /** The target for berth, when it sets one. */
  target?: number;
}

function fmt(value: number | undefined, unit: string): string {
  if (value === undefined || Number.isNaN(value)) return '-';
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${unit}`;
}

function ratio(berth: number, other: number | undefined): string {
  if (other === undefined || Number.isNaN(other) || berth <= 0) return '-';
  return `${(other / berth).toFixed(1)}×`;
}

/** A plain-text table: berth, docker, podman, how many times berth beats each, target, pass/fail. */
export function formatTable(rows: BenchRow[]): string {
  const header = ['benchmark', 'berth', 'docker', 'docker/berth', 'podman', 'podman/berth', 'target', 'result'];
  const lines = rows.map((r) => [
    r.benchmark,
    fmt(r.berth, r.unit),
    fmt(r.docker, r.unit),
    ratio(r.berth, r.docker),
    fmt(r.podman, r.unit),
    ratio(r.berth, r.podman),
    r.target === undefined ? '-' : `≤ ${r.target} ${r.unit}`,
    r.target === undefined ? '' : r.berth <= r.target ? 'pass' : 'FAIL',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const render = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [render(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(render)].join('\n');
}
