import type { JsonStreamMessage } from '../api/types/common';
import { humanSize } from './human-size';

/**
 * Docker's JSON progress messages (moby's streamformatter and jsonmessage), one shape for
 * every operation that reports progress (pull, push, load, import): the daemon builds them
 * here, and the CLI's renderer draws their `progressDetail` with the same bar.
 */
export interface ProgressDetail {
  current?: number;
  total?: number;
  hidecounts?: boolean;
  units?: string;
}

/** The width dockerd formats `progress` strings for: it has no terminal, and Go's fallback is 200 columns. */
export const DAEMON_PROGRESS_WIDTH = 200;

/**
 * jsonmessage.JSONProgress.String: `[=====>     ]  12.3MB/45.6MB`; the bar only when the
 * width is over 110 columns, the counts alone without a total, '' when there is nothing yet.
 */
export function progressString(detail: ProgressDetail, width = DAEMON_PROGRESS_WIDTH): string {
  const current = detail.current ?? 0;
  const total = detail.total ?? 0;
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) return detail.units ? `${current} ${detail.units}` : humanSize(current).padStart(8);
  const percentage = Math.min(50, Math.trunc(Math.trunc((current / total) * 100) / 2));
  const bar = width > 110 ? `[${'='.repeat(percentage)}>${' '.repeat(Math.max(0, 50 - percentage))}] ` : '';
  let numbers = '';
  if (!detail.hidecounts) {
    if (detail.units) numbers = `${current}/${total} ${detail.units}`;
    else numbers = current > total ? humanSize(current).padStart(8) : `${humanSize(current).padStart(8)}/${humanSize(total)}`;
  }
  return bar + numbers;
}

/** `progress.Update`: a per-item status ("Preparing", "Pushed"), with an empty progressDetail as dockerd sends. */
export function progressUpdate(id: string, status: string): JsonStreamMessage {
  return { status, progressDetail: {}, id };
}

/** A progress reader's update ("Pushing", "Downloading"): detail plus the bar dockerd formats. */
export function progressBytes(id: string, status: string, current: number, total: number): JsonStreamMessage {
  const progressDetail = { current, total };
  const progress = progressString(progressDetail);
  return progress === '' ? { status, progressDetail, id } : { status, progressDetail, progress, id };
}

/** `progress.Message`: a plain status line, with an id when it belongs to one item. */
export function statusMessage(status: string, id?: string): JsonStreamMessage {
  return id === undefined ? { status } : { status, id };
}

/** `progress.Aux`: side data for the client (push's {Tag, Digest, Size}). */
export function auxMessage(aux: Record<string, unknown>): JsonStreamMessage {
  return { progressDetail: {}, aux };
}
