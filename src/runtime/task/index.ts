export * from './types';
export * from './runc-task';
