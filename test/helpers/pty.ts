import { spawn, ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';

/** util-linux `script`, which gives a command a real pseudo-terminal without any native module. */
export const SCRIPT = ['/usr/bin/script', '/bin/script'].find((p) => existsSync(p));

/**
 * A command run on a pseudo-terminal through `script -qfec CMD /dev/null`: what we write
 * goes to the terminal's input (so \x03 is a Ctrl-C the line discipline turns into SIGINT),
 * and `output` accumulates what the terminal shows.
 */
export class PtySession {
  private readonly child: ChildProcess;
  private text = '';
  readonly exited: Promise<number>;

  constructor(command: string, env: NodeJS.ProcessEnv = {}, size = { rows: 24, cols: 80 }) {
    if (!SCRIPT) throw new Error('util-linux script is not installed');
    // `stty` sets the size of the new terminal before the client starts and reads it.
    const shell = `stty rows ${size.rows} cols ${size.cols}; exec ${command}`;
    this.child = spawn(SCRIPT, ['-qfec', shell, '/dev/null'], { env: { ...process.env, TERM: 'xterm', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (c: Buffer) => (this.text += c.toString()));
    this.child.stderr!.on('data', (c: Buffer) => (this.text += c.toString()));
    this.child.stdin!.on('error', () => undefined);
    this.exited = new Promise((resolve) => this.child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : -1))));
  }

  get output(): string {
    return this.text;
  }

  write(data: string): void {
    this.child.stdin!.write(data);
  }

  /** Waits until the output after `from` matches; returns the match. */
  async waitFor(pattern: RegExp, timeoutMs = 15_000, from = 0): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = this.text.slice(from).match(pattern);
      if (match) return match;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; terminal showed:\n${JSON.stringify(this.text)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Resizes the terminal from outside, as a terminal emulator does: the client gets SIGWINCH. */
  async resize(rows: number, cols: number): Promise<void> {
    const pts = await this.terminalPath();
    const { code } = await new Promise<{ code: number | null }>((resolve) =>
      spawn('stty', ['-F', pts, 'rows', String(rows), 'cols', String(cols)]).on('close', (c) => resolve({ code: c })),
    );
    if (code !== 0) throw new Error(`stty -F ${pts} failed`);
  }

  /** The /dev/pts/N that `script` made: the stdin of its child. */
  private async terminalPath(): Promise<string> {
    for (const pid of await fs.readdir('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== this.child.pid) continue;
      const link = await fs.readlink(`/proc/${pid}/fd/0`).catch(() => '');
      if (link.startsWith('/dev/pts/')) return link;
    }
    throw new Error('cannot find the terminal of the session');
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
