export * from './types';
export * from './runc-task';
export type { ExitStatus } from '../monitor/protocol';
export { RuntimeStartError } from '../driver/runtime-start-error';
export { parseSignal } from '../driver/signals';
