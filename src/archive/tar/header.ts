import { encodePaxRecords, PaxRecords } from './pax';

/**
 * A ustar header encoder for the packer. tar-stream's packer cannot write mode 0 (it
 * replaces it with 0644) nor byte-valued PAX records (xattrs), so we encode headers
 * ourselves; tar-stream still parses everything on the way in.
 */
export type EntryType = 'file' | 'link' | 'symlink' | 'character-device' | 'block-device' | 'directory' | 'fifo';

export interface PackHeader {
  name: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Whole seconds since the epoch. */
  mtime: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extra PAX records (e.g. SCHILY.xattr.*), written with the entry. */
  pax?: PaxRecords;
}

export const BLOCK = 512;
export const END_OF_ARCHIVE = Buffer.alloc(BLOCK * 2);

const TYPEFLAG: Record<EntryType | 'pax', string> = {
  file: '0',
  link: '1',
  symlink: '2',
  'character-device': '3',
  'block-device': '4',
  directory: '5',
  fifo: '6',
  pax: 'x',
};

const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;

function isPlainAscii(s: string): boolean {
  return /^[\x20-\x7e]*$/.test(s);
}

function writeOctal(block: Buffer, value: number, offset: number, width: number): void {
  block.write(value.toString(8).padStart(width - 1, '0') + '\0', offset, width, 'ascii');
}

function encodeBlock(h: { name: string; type: EntryType | 'pax'; mode: number; uid: number; gid: number; size: number; mtime: number; linkname: string; devmajor: number; devminor: number }): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(h.name, 0, 100, 'utf8');
  writeOctal(block, h.mode & 0o7777, 100, 8);
  writeOctal(block, h.uid, 108, 8);
  writeOctal(block, h.gid, 116, 8);
  writeOctal(block, h.size, 124, 12);
  writeOctal(block, h.mtime, 136, 12);
  block.write(TYPEFLAG[h.type], 156, 1, 'ascii');
  block.write(h.linkname, 157, 100, 'utf8');
  block.write('ustar\u000000', 257, 8, 'ascii');
  writeOctal(block, h.devmajor, 329, 8);
  writeOctal(block, h.devminor, 337, 8);
  block.fill(0x20, 148, 156); // checksum field counts as spaces
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return block;
}

/** The header blocks of one entry: a PAX header when needed, then the ustar header. */
export function encodeHeader(h: PackHeader): Buffer {
  const records: PaxRecords = [];
  let name = h.type === 'directory' && !h.name.endsWith('/') ? `${h.name}/` : h.name;
  let linkname = h.linkname ?? '';
  let { uid, gid, size } = h;
  if (Buffer.byteLength(name) > 100 || !isPlainAscii(name)) {
    records.push(['path', Buffer.from(name)]);
    name = name.replace(/[^\x20-\x7e]/g, '_').slice(0, 99);
  }
  if (Buffer.byteLength(linkname) > 100 || !isPlainAscii(linkname)) {
    records.push(['linkpath', Buffer.from(linkname)]);
    linkname = linkname.replace(/[^\x20-\x7e]/g, '_').slice(0, 99);
  }
  if (uid > MAX_OCTAL_7) {
    records.push(['uid', Buffer.from(String(uid))]);
    uid = 0;
  }
  if (gid > MAX_OCTAL_7) {
    records.push(['gid', Buffer.from(String(gid))]);
    gid = 0;
  }
  if (size > MAX_OCTAL_11) {
    records.push(['size', Buffer.from(String(size))]);
    size = 0;
  }
  records.push(...(h.pax ?? []));
  const ustar = encodeBlock({ name, type: h.type, mode: h.mode, uid, gid, size, mtime: h.mtime, linkname, devmajor: h.devmajor ?? 0, devminor: h.devminor ?? 0 });
  if (records.length === 0) return ustar;
  const body = encodePaxRecords(records);
  const paxHeader = encodeBlock({ name: 'PaxHeader', type: 'pax', mode: 0o644, uid: 0, gid: 0, size: body.length, mtime: h.mtime, linkname: '', devmajor: 0, devminor: 0 });
  return Buffer.concat([paxHeader, body, padding(body.length), ustar]);
}

/** Zero bytes that fill the last block of an entry body of `size` bytes. */
export function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - rest);
}
