/**
 * PAX extended headers for the records tar-stream cannot encode itself: xattr values are
 * bytes, but tar-stream writes PAX values as UTF-8 strings. We build the record block as
 * bytes and emit it as a 'pax-header' entry right before the entry it describes.
 */
export const XATTR_PAX_PREFIX = 'SCHILY.xattr.';

export type PaxRecords = Array<[key: string, value: Buffer]>;

/** One `"<len> <key>=<value>\n"` record, where len counts its own digits. */
function encodeRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let digits = String(body.length).length;
  if (String(body.length + digits).length > digits) digits++;
  return Buffer.concat([Buffer.from(String(body.length + digits)), body]);
}

export function encodePaxRecords(records: PaxRecords): Buffer {
  return Buffer.concat(records.map(([key, value]) => encodeRecord(key, value)));
}

/**
 * The xattrs found in a decoded PAX record set. tar-stream decodes PAX values as UTF-8,
 * so a value that was not valid UTF-8 comes back with U+FFFD; such values are reported in
 * `lossy` instead of being written back corrupted.
 */
export function xattrsFromPax(pax: Record<string, string> | null | undefined): { xattrs: Array<[string, Buffer]>; lossy: string[] } {
  const xattrs: Array<[string, Buffer]> = [];
  const lossy: string[] = [];
  if (!pax) return { xattrs, lossy };
  for (const [key, value] of Object.entries(pax)) {
    if (!key.startsWith(XATTR_PAX_PREFIX)) continue;
    const name = key.slice(XATTR_PAX_PREFIX.length);
    if (value.includes('\uFFFD')) lossy.push(name);
    else xattrs.push([name, Buffer.from(value, 'utf8')]);
  }
  return { xattrs, lossy };
}
