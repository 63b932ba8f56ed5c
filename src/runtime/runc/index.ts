export * from './runc';
