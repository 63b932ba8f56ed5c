import { native } from '../native';

/**
 * glibc's heap for the daemon's work: pulls keep freed memory, an idle daemon gives it back.
 *
 * A pull churns ~300 MB of short-lived 64 KB-1 MB buffers (socket reads, batches, gunzip
 * output); in this VM a page faulted in afresh costs more than the copy into it, so while a
 * pull runs glibc serves blocks up to 4 MB from its heap and keeps up to 64 MB of it free
 * (110 MB pull: berthd CPU 1180 -> 1030 ms). Set process-wide (GLIBC_TUNABLES, as before)
 * they cost an idle daemon ~2 MB and kept whatever a pull had freed, so they are set only
 * while a pull holds them. When the layer extraction worker ends (it served a pull, a load, a
 * bootstrap), its heap and the work's buffers go back to the kernel (malloc_trim). Not after
 * every request: the pages given back are faulted in again by the next one.
 */

/** A pull's thresholds: its buffers (up to 1 MB) come from, and go back to, the heap. */
const PULL_MMAP_THRESHOLD = 4 << 20;
const PULL_TRIM_THRESHOLD = 64 << 20;
/**
 * Afterwards: blocks up to 4 MB still from the heap, and twice that kept at its top, as
 * glibc's own dynamic thresholds would have grown after such blocks (mallopt turns those off).
 */
const AFTER_MMAP_THRESHOLD = 4 << 20;
const AFTER_TRIM_THRESHOLD = 8 << 20;

let holds = 0;

/**
 * A pull's thresholds until the returned release is called (holds nest): then the usual
 * thresholds come back and the free heap is given back.
 */
export function holdHeapForPull(): () => void {
  if (holds++ === 0) setThresholds(PULL_MMAP_THRESHOLD, PULL_TRIM_THRESHOLD);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--holds > 0) return;
    setThresholds(AFTER_MMAP_THRESHOLD, AFTER_TRIM_THRESHOLD);
    trimHeap();
  };
}

/**
 * V8's full collection, when the daemon runs with --expose-gc (bin/berthd). The work that
 * ends here (a bootstrap, a pull, a load) leaves MBs of dead buffers and objects that V8's own
 * memory reducer collects only after 8-16 s of idleness: until then the idle daemon holds them
 * (idle-rss: 3-4 MB after the busybox bootstrap). One collection takes ~10-20 ms of the JS thread.
 */
const collectGarbage = (globalThis as { gc?: () => void }).gc;
/**
 * At most one such collection per this long: a build commits a layer per step and the worker
 * ends between steps; V8's memory reducer cleans up after those on its own.
 */
const MIN_COLLECTION_INTERVAL_MS = 30_000;
let lastCollection = -Infinity;

/** Collects V8's garbage (at most every 30 s), then gives the heap's free pages back to the kernel, unless a pull holds them. */
export function trimHeap(): void {
  if (holds > 0) return;
  const now = performance.now();
  if (collectGarbage && now - lastCollection >= MIN_COLLECTION_INTERVAL_MS) {
    lastCollection = now;
    collectGarbage();
  }
  try {
    native.mallocTrim?.();
  } catch {
    // No addon loaded (a test without the build): nothing to give back then.
  }
}

function setThresholds(mmapThreshold: number, trimThreshold: number): void {
  try {
    native.mallocThresholds?.(mmapThreshold, trimThreshold);
  } catch {
    // No addon loaded: glibc's defaults then.
  }
}
