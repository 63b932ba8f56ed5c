import type { JsonStreamMessage } from '../../../api/types/common';
import { progressBytes, progressUpdate, statusMessage } from '../../../util/json-progress';

/** dockerd's progress reader sends an update after 512 KiB and 100 ms at most once, and always the last one. */
const UPDATE_EVERY_BYTES = 512 * 1024;
const UPDATE_EVERY_MS = 100;

/** docker's stringid.TruncateID of a layer digest: the id of its progress lines. */
export function layerProgressId(digest: string): string {
  return digest.slice(digest.indexOf(':') + 1).slice(0, 12);
}

/**
 * The JSON progress messages of a pull, exactly as dockerd 20.10 sends them (status,
 * progressDetail, progress, id, in moby's JSONMessage field order), given to `emit`.
 */
export class PullProgress {
  private readonly last = new Map<string, { bytes: number; at: number }>();

  constructor(private readonly emit: (message: JsonStreamMessage) => void) {}

  message(status: string, id?: string): void {
    this.emit(statusMessage(status, id));
  }

  /** A layer's state line: "Pulling fs layer", "Waiting", "Verifying Checksum", "Download complete", "Pull complete", "Already exists". */
  layer(id: string, status: string): void {
    this.emit(progressUpdate(id, status));
  }

  /** "Downloading"/"Extracting" with a bar; throttled like dockerd's progress reader unless it is the last update. */
  bytes(id: string, status: 'Downloading' | 'Extracting', current: number, total: number): void {
    const key = `${status}/${id}`;
    const now = Date.now();
    const previous = this.last.get(key);
    if (current < total && previous && (current - previous.bytes < UPDATE_EVERY_BYTES || now - previous.at < UPDATE_EVERY_MS)) return;
    this.last.set(key, { bytes: current, at: now });
    this.emit(progressBytes(id, status, current, total));
  }
}
