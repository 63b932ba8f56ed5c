import { defineCommand, StatusError } from '../../command';
import { followContainer, proxySignals } from '../../streams/attach-io';
import { forEachName } from '../common';

export default defineCommand({
  usage: 'start [OPTIONS] CONTAINER [CONTAINER...]',
  description: 'Start one or more stopped containers',
  minArgs: 1,
  flags: {
    attach: { kind: 'bool', short: 'a', description: 'Attach STDOUT/STDERR and forward signals' },
    interactive: { kind: 'bool', short: 'i', description: "Attach container's STDIN" },
    'detach-keys': { kind: 'string', description: 'Override the key sequence for detaching a container' },
  },
  async run(ctx, flags, args) {
    const client = await ctx.client();
    if (!flags.attach && !flags.interactive) return forEachName(ctx, args, (name) => client.containerStart(name));
    if (args.length > 1) throw new StatusError(1, 'you cannot start and attach multiple containers at once');
    const info = await client.containerInspect(args[0]!);
    const id = info.Id;
    const tty = info.Config.Tty === true;
    const stdin = flags.interactive && info.Config.OpenStdin === true;
    const hijacked = await client.containerAttach(id, { stream: true, stdin, stdout: true, stderr: true, detachKeys: flags['detach-keys'] });
    const stopSignals = tty ? () => undefined : proxySignals((signal) => client.containerKill(id, signal));
    const waiting = client.containerWait(id, 'next-exit');
    waiting.catch(() => undefined);
    try {
      await client.containerStart(id, { detachKeys: flags['detach-keys'] });
    } catch (err: unknown) {
      hijacked.socket.destroy();
      stopSignals();
      throw err;
    }
    const status = await followContainer({
      socket: hijacked.socket,
      tty,
      stdin: stdin ? ctx.stdin : undefined,
      stdout: ctx.stdout,
      stderr: ctx.stderr,
      detachKeys: flags['detach-keys'],
      waiting,
      resize: (h, w) => client.containerResize(id, h, w),
      stopSignals,
    });
    return status === 'detached' ? 0 : status.StatusCode;
  },
});
