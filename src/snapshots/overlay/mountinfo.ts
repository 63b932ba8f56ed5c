import { promises as fs } from 'node:fs';

/** Decodes the octal escapes (\040 space, \011 tab, \012 newline, \134 backslash) of /proc/self/mountinfo. */
export function decodeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Mount points from a mountinfo text (field 5), in mount order. */
export function parseMountPoints(mountinfo: string): string[] {
  const points: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const fields = line.split(' ');
    if (fields.length >= 5) points.push(decodeMountPath(fields[4]));
  }
  return points;
}

export async function mountPoints(): Promise<string[]> {
  return parseMountPoints(await fs.readFile('/proc/self/mountinfo', 'utf8'));
}

export async function isMountPoint(target: string): Promise<boolean> {
  return (await mountPoints()).includes(target);
}

/**
 * Mount points at or under `prefix`, deepest first (the order to unmount them in), so the
 * daemon can clean up mounts orphaned by a crash.
 */
export async function listMountsUnder(prefix: string): Promise<string[]> {
  const base = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  const found = (await mountPoints()).filter((p) => p === base || p.startsWith(`${base}/`));
  return [...new Set(found)].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
}
