import type { ContainerSummary, Port } from '../../../client/types';
import { humanSize, shortId, timeAgo, humanDuration } from '../../output/units';

export const PS_HEADERS: Record<string, string> = {
  ID: 'CONTAINER ID',
  Image: 'IMAGE',
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  RunningFor: 'CREATED',
  Ports: 'PORTS',
  State: 'STATE',
  Status: 'STATUS',
  Size: 'SIZE',
  Names: 'NAMES',
  Labels: 'LABELS',
  Mounts: 'MOUNTS',
  Networks: 'NETWORKS',
  LocalVolumes: 'LOCAL VOLUMES',
};

export const PS_DEFAULT_TABLE = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';

/** docker's formatted ports: "0.0.0.0:8080->80/tcp, 443/tcp". */
export function formatPorts(ports: Port[]): string {
  return ports
    .map((p) => (p.PublicPort ? `${p.IP && p.IP !== '' ? (p.IP.includes(':') ? `[${p.IP}]` : p.IP) : '0.0.0.0'}:${p.PublicPort}->${p.PrivatePort}/${p.Type}` : `${p.PrivatePort}/${p.Type}`))
    .sort()
    .join(', ');
}

function ellipsis(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/** The fields `docker ps --format` offers, computed from one summary (docker's ContainerContext). */
export class ContainerContext {
  constructor(private readonly c: ContainerSummary, private readonly trunc: boolean) {}

  get ID(): string {
    return this.trunc ? shortId(this.c.Id) : this.c.Id;
  }
  get Names(): string {
    // drop the leading slash and links (names with a second slash)
    const names = this.c.Names.map((n) => n.replace(/^\//, '')).filter((n) => this.trunc ? !n.includes('/') : true);
    return names.join(',');
  }
  get Image(): string {
    const image = this.c.Image;
    if (this.trunc && /^sha256:[0-9a-f]{64}$/.test(image)) return shortId(image);
    return image;
  }
  get Command(): string {
    const command = this.trunc ? ellipsis(this.c.Command, 20) : this.c.Command;
    return JSON.stringify(command);
  }
  get CreatedAt(): string {
    return formatGoTime(new Date(this.c.Created * 1000));
  }
  get RunningFor(): string {
    return timeAgo(this.c.Created);
  }
  get Ports(): string {
    return formatPorts(this.c.Ports ?? []);
  }
  get State(): string {
    return this.c.State;
  }
  get Status(): string {
    return this.c.Status;
  }
  get Size(): string {
    // docker's ContainerContext.Size: "(virtual N)" only when the daemon sent SizeRootFs.
    const rw = humanSize(this.c.SizeRw ?? 0, 3);
    const virtual = this.c.SizeRootFs ?? 0;
    return virtual > 0 ? `${rw} (virtual ${humanSize(virtual, 3)})` : rw;
  }
  get Labels(): string {
    return Object.entries(this.c.Labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
  }
  Label(name: string): string {
    return this.c.Labels?.[name] ?? '';
  }
  get Mounts(): string {
    return (this.c.Mounts ?? []).map((m) => (m.Name ? (this.trunc ? ellipsis(m.Name, 15) : m.Name) : m.Source)).join(',');
  }
  get Networks(): string {
    return Object.keys(this.c.NetworkSettings?.Networks ?? {}).sort().join(',');
  }
  get LocalVolumes(): string {
    return String((this.c.Mounts ?? []).filter((m) => m.Driver === 'local').length);
  }

  toJSON(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const key of Object.keys(PS_HEADERS).sort()) out[key] = String((this as unknown as Record<string, unknown>)[key]);
    return out;
  }
}

/** Go's time.Time String(): "2024-01-02 15:04:05 +0000 UTC" in local time. */
export function formatGoTime(date: Date): string {
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const offsetMin = -date.getTimezoneOffset();
  const sign = offsetMin >= 0 ? '+' : '-';
  const abs = Math.abs(offsetMin);
  const zone = Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(date).find((p) => p.type === 'timeZoneName')?.value ?? '';
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())} ${sign}${pad(Math.trunc(abs / 60))}${pad(abs % 60)} ${zone === 'GMT' || zone === 'UTC' ? 'UTC' : zone}`;
}

export { humanDuration };
