/** Docker's tar-level whiteout names (AUFS convention, used by every layer tar). */
export const WHITEOUT_PREFIX = '.wh.';
/** Marks its directory opaque: lower layers' contents of that directory are hidden. */
export const OPAQUE_WHITEOUT = '.wh..wh..opq';
/** Any other `.wh..wh.` name is AUFS metadata (e.g. `.wh..wh.plnk`) and is skipped. */
export const WHITEOUT_META_PREFIX = '.wh..wh.';

/** The xattr overlayfs reads to treat an upper directory as opaque. */
export const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';
