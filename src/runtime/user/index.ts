export * from './resolve-user';
