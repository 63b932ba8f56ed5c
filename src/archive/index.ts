/** docker cp / export / import on container root file systems. */
export { statPath } from './path-stat';
export type { PathStat } from './path-stat';
export { archivePath, exportRootfs } from './archive-path';
export { extractArchive } from './extract-archive';
export type { ExtractArchiveOptions } from './extract-archive';
export { goFileMode, rfc3339Nano } from './file-mode';
export { openProcessRoot } from './process-root';
export { openHostDir, closeFd } from '../util/fs-at';
