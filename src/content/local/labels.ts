import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Labels } from '../types';
import { MAX_LABEL_SIZE } from '../types';
import { invalidArgument, isENOENT } from '../../errors';
import { readJsonIfExists, removeStaleTempFiles, writeJsonAtomic } from '../../util/atomic-fs';

/** What a blob's labels file holds. */
export interface LabelRecord {
  labels: Labels;
  /** ms since epoch of the last change */
  updatedAt: number;
}

/** containerd's label rules: a non-empty key, key + value at most 4096 bytes. */
export function validateLabels(labels: Labels): void {
  for (const [key, value] of Object.entries(labels)) {
    if (key === '') throw invalidArgument('label key must not be empty');
    if (typeof value !== 'string') throw invalidArgument(`label ${JSON.stringify(key)}: value must be a string`);
    const size = Buffer.byteLength(key) + Buffer.byteLength(value);
    if (size > MAX_LABEL_SIZE) {
      throw invalidArgument(`label key and value length (${size} bytes) greater than maximum size (${MAX_LABEL_SIZE} bytes), key: ${key.slice(0, 64)}`);
    }
  }
}

/**
 * containerd's Update semantics: no field paths replaces the labels; `labels` does too;
 * `labels.<key>` sets that key from `labels` or removes it when absent there.
 */
export function applyLabelUpdate(current: Labels, labels: Labels, fieldpaths?: string[]): Labels {
  if (!fieldpaths || fieldpaths.length === 0 || fieldpaths.includes('labels')) return { ...labels };
  const next = { ...current };
  for (const fieldpath of fieldpaths) {
    if (!fieldpath.startsWith('labels.') || fieldpath.length === 'labels.'.length) {
      throw invalidArgument(`cannot update ${JSON.stringify(fieldpath)} field on content info`);
    }
    const key = fieldpath.slice('labels.'.length);
    if (Object.prototype.hasOwnProperty.call(labels, key)) next[key] = labels[key]!;
    else delete next[key];
  }
  return next;
}

/** One JSON file per labelled blob, `<dir>/<hex>.json`, replaced atomically (fsynced). */
export class LabelFiles {
  constructor(readonly dir: string) {}

  private file(hex: string): string {
    return path.join(this.dir, `${hex}.json`);
  }

  async init(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    await removeStaleTempFiles(this.dir);
  }

  async read(hex: string): Promise<LabelRecord | undefined> {
    return readJsonIfExists<LabelRecord>(this.file(hex));
  }

  async write(hex: string, record: LabelRecord): Promise<void> {
    await writeJsonAtomic(this.file(hex), record, 0o600);
  }

  async remove(hex: string): Promise<void> {
    await fs.rm(this.file(hex), { force: true });
  }

  /** Hex digests that have a labels file. */
  async list(): Promise<string[]> {
    try {
      return (await fs.readdir(this.dir)).filter((n) => n.endsWith('.json') && !n.startsWith('.')).map((n) => n.slice(0, -'.json'.length));
    } catch (err) {
      if (isENOENT(err)) return [];
      throw err;
    }
  }
}
