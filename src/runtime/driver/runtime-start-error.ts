import { EngineError, ErrorKind } from '../../errors';

/**
 * The runtime failed before the container (or exec) process ran. The message has
 * Docker's shape, e.g. `OCI runtime create failed: runc create failed: unable to start
 * container process: exec: "x": executable file not found in $PATH: unknown`.
 * `exitCode` is what Docker records for the container: 127 when the command was not
 * found, 126 when it could not be executed, else undefined.
 */
export class RuntimeStartError extends EngineError {
  readonly exitCode: number | undefined;
  constructor(kind: ErrorKind, message: string, exitCode: number | undefined, cause?: unknown) {
    super(kind, message, { cause });
    this.exitCode = exitCode;
  }
}

/**
 * crun's words for a command that is not there or cannot be run, as runc (and so Docker)
 * puts them: crun says "executable file `x` not found in $PATH: No such file or directory"
 * and "open executable: Permission denied" (without the name).
 */
function runcWording(message: string): string {
  const notFound = /^executable file `(.*)` not found in \$PATH: No such file or directory$/.exec(message);
  if (notFound) return `unable to start container process: exec: "${notFound[1]}": executable file not found in $PATH`;
  if (message === 'open executable: Permission denied') return 'unable to start container process: exec: permission denied';
  return message;
}

/** Builds the Docker-shaped error from the runtime's last log message. */
export function runtimeStartError(phase: 'create' | 'exec', runtimeMessage: string, cause?: unknown): RuntimeStartError {
  // runc 1.1 says "runc run failed: ..." for `run`; Docker (containerd) shows "runc create failed: ...".
  const detail = runcWording(runtimeMessage.trim()).replace(/^runc run failed:/, 'runc create failed:');
  const message = `OCI runtime ${phase} failed: ${detail}: unknown`;
  const lower = detail.toLowerCase();
  if (lower.includes('permission denied')) return new RuntimeStartError('InvalidArgument', message, 126, cause);
  if (lower.includes('executable file not found') || lower.includes('no such file or directory')) {
    return new RuntimeStartError('InvalidArgument', message, 127, cause);
  }
  if (lower.includes('not a directory')) {
    return new RuntimeStartError(
      'InvalidArgument',
      `${message}: Are you trying to mount a directory onto a file (or vice-versa)? Check if the specified host path exists and is the expected type`,
      127,
      cause,
    );
  }
  return new RuntimeStartError('Internal', message, undefined, cause);
}
