import { defineCommand, StatusError } from '../../command';
import { holdHijackedConnection, monitorTtySize } from '../../streams/attach-io';
import { readEnvFile } from './create-options';

export default defineCommand({
  usage: 'exec [OPTIONS] CONTAINER COMMAND [ARG...]',
  description: 'Execute a command in a running container',
  interspersed: false,
  minArgs: 2,
  flags: {
    detach: { kind: 'bool', short: 'd', description: 'Detached mode: run command in the background' },
    'detach-keys': { kind: 'string', description: 'Override the key sequence for detaching a container' },
    env: { kind: 'strings', short: 'e', description: 'Set environment variables' },
    'env-file': { kind: 'strings', description: 'Read in a file of environment variables' },
    interactive: { kind: 'bool', short: 'i', description: 'Keep STDIN open even if not attached' },
    privileged: { kind: 'bool', description: 'Give extended privileges to the command' },
    tty: { kind: 'bool', short: 't', description: 'Allocate a pseudo-TTY' },
    user: { kind: 'string', short: 'u', description: 'Username or UID (format: "<name|uid>[:<group|gid>]")' },
    workdir: { kind: 'string', short: 'w', description: 'Working directory inside the container' },
  },
  async run(ctx, flags, args) {
    const [container, ...cmd] = args as [string, ...string[]];
    const client = await ctx.client();
    const tty = flags.tty;
    const env = [...flags['env-file'].flatMap(readEnvFile), ...flags.env];
    const size: [number, number] | null = tty && ctx.stdout.isTTY ? [ctx.stdout.rows, ctx.stdout.columns] : null;
    const { Id: execId } = await client.execCreate(container, {
      User: flags.user,
      Privileged: flags.privileged,
      Tty: tty,
      AttachStdin: flags.interactive && !flags.detach,
      AttachStdout: !flags.detach,
      AttachStderr: !flags.detach,
      DetachKeys: flags['detach-keys'],
      Env: env.length > 0 ? env : null,
      WorkingDir: flags.workdir,
      Cmd: cmd,
      ConsoleSize: size,
    });
    if (flags.detach) {
      await client.execStartDetached(execId, { Tty: tty, ConsoleSize: size });
      return 0;
    }
    const hijacked = await client.execStartAttached(execId, { Tty: tty, ConsoleSize: size });
    const stopResize = tty ? monitorTtySize((h, w) => client.execResize(execId, h, w), ctx.stdout) : () => undefined;
    try {
      const result = await holdHijackedConnection({
        socket: hijacked.socket,
        tty,
        stdin: flags.interactive ? ctx.stdin : undefined,
        stdout: ctx.stdout,
        stderr: ctx.stderr,
        detachKeys: flags['detach-keys'],
      });
      if (result.detached) return 0;
    } finally {
      stopResize();
    }
    for (let attempt = 0; attempt < 50; attempt++) {
      const inspect = await client.execInspect(execId);
      if (!inspect.Running) return inspect.ExitCode ?? 0;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new StatusError(1, 'exec did not report its exit code');
  },
});
