import type { EngineClient } from '../client/engine-client';

/** What every command gets: how to reach the daemon and where to write. */
export class CliContext {
  private clientPromise: Promise<EngineClient> | undefined;

  constructor(
    readonly program: string,
    readonly hostFlag: string | undefined,
    readonly stdout: NodeJS.WriteStream = process.stdout,
    readonly stderr: NodeJS.WriteStream = process.stderr,
    private readonly stdinStream?: NodeJS.ReadStream,
  ) {}

  /** Read on first use: process.stdin opens a handle (≈ 10 ms at start-up) that few commands need. */
  get stdin(): NodeJS.ReadStream {
    return this.stdinStream ?? process.stdin;
  }

  /** A connected client (version negotiated; the daemon started if it may be). */
  client(): Promise<EngineClient> {
    this.clientPromise ??= (require('./daemon/connect') as typeof import('./daemon/connect')).connectClient(this.hostFlag);
    return this.clientPromise;
  }

  out(text: string): void {
    this.stdout.write(text);
  }

  err(text: string): void {
    this.stderr.write(text);
  }
}
