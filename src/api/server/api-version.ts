import { invalidArgument } from '../../errors';

/** API versions Berth speaks; clients negotiate down from MAX via /_ping's API-Version. */
export const MAX_API_VERSION = '1.45';
export const MIN_API_VERSION = '1.24';

/** Compares dotted versions numerically ("1.9" < "1.10"), like moby's versions.compare. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((p) => parseInt(p, 10) || 0);
  const pb = b.split('.').map((p) => parseInt(p, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export const versionAtLeast = (version: string, min: string) => compareVersions(version, min) >= 0;

/** The version a request speaks: its /vX.Y prefix, else the maximum. Throws 400 outside the range. */
export function negotiateVersion(requested: string | undefined): string {
  if (requested === undefined || requested === '') return MAX_API_VERSION;
  if (compareVersions(requested, MIN_API_VERSION) < 0) {
    throw invalidArgument(
      `client version ${requested} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
    );
  }
  if (compareVersions(requested, MAX_API_VERSION) > 0) {
    throw invalidArgument(`client version ${requested} is too new. Maximum supported API version is ${MAX_API_VERSION}`);
  }
  return requested;
}
