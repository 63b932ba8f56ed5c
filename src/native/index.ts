import * as path from 'node:path';
import { nativeBuildDir } from './build-dir';
import type { NativeSyscalls } from './types';

export { MountFlags, UnmountFlags } from './types';
export type { NativeSyscalls } from './types';
export { nativeBuildDir } from './build-dir';

/** The addon also exposes its userspace resolver alone, so tests cover the pre-openat2 path. */
export interface NativeAddon extends NativeSyscalls {
  resolveInRootUserspace(root: string, path: string): string;
}

function loadAddon(): NativeAddon {
  const file = path.join(nativeBuildDir(), 'berth_native.node');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(file) as NativeAddon;
  } catch (err: unknown) {
    throw new Error(`berth native addon not built: run npm install (cannot load ${file})`, { cause: err });
  }
}

/** Loaded on first use, so importing this module never fails by itself. */
let addon: NativeAddon | undefined;
function get(): NativeAddon {
  addon ??= loadAddon();
  return addon;
}

/** The syscalls Node lacks (see types.ts). Errors carry code, errno, syscall and path like Node's fs errors. */
export const native: NativeAddon = {
  mount: (source, target, fstype, flags, data) => get().mount(source, target, fstype, flags, data),
  umount: (target, flags) => get().umount(target, flags),
  mknod: (file, mode, major, minor) => get().mknod(file, mode, major, minor),
  lsetxattr: (file, name, value) => get().lsetxattr(file, name, value),
  lgetxattr: (file, name) => get().lgetxattr(file, name),
  llistxattr: (file) => get().llistxattr(file),
  resolveInRoot: (root, inner) => get().resolveInRoot(root, inner),
  resolveInRootUserspace: (root, inner) => get().resolveInRootUserspace(root, inner),
};
