/** Whether the tests run as root (runc, overlay mounts, namespaces and the daemon need it). */
export const isRoot = process.getuid?.() === 0;

/**
 * The `skip` value for a test that needs root: false as root, else `reason`. With
 * BERTH_REQUIRE_ROOT=1 (set in .ci/run) a run without root fails here instead of skipping, so a
 * suite that skipped everything real cannot pass as green.
 */
export function needsRoot(reason = 'needs root'): string | false {
  if (isRoot) return false;
  if (process.env.BERTH_REQUIRE_ROOT === '1') {
    throw new Error(`BERTH_REQUIRE_ROOT=1 and this test says "${reason}", but it runs as uid ${process.getuid?.() ?? '?'}`);
  }
  return reason;
}
