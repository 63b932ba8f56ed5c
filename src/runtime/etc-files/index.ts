export * from './etc-files';
export * from './extra-hosts';
