export { bootstrapBusybox, busyboxLayer, BUSYBOX_EPOCH, DEFAULT_PATH } from './busybox';
export type { BusyboxOptions } from './busybox';
export { bootstrapDebian, aptMirror } from './debian';
export type { DebianOptions } from './debian';
export type { BaseImageLayer, BaseImageSink } from './base-image-sink';
