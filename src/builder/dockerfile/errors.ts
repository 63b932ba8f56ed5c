/** A Dockerfile problem tied to the file and line it comes from (1-based). */
export class DockerfileError extends Error {
  constructor(readonly file: string, readonly line: number, readonly detail: string) {
    super(`${file}:${line}: ${detail}`);
    this.name = 'DockerfileError';
  }
}
