export * from './etc-files';
