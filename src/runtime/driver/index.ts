export * from './runc-driver';
export * from './signals';
export * from './runtime-start-error';
