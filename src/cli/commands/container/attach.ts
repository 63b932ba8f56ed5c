import { defineCommand, StatusError } from '../../command';
import { followContainer, proxySignals } from '../../streams/attach-io';

export default defineCommand({
  usage: 'attach [OPTIONS] CONTAINER',
  description: "Attach local standard input, output, and error streams to a running container",
  minArgs: 1,
  maxArgs: 1,
  flags: {
    'detach-keys': { kind: 'string', description: 'Override the key sequence for detaching a container' },
    'no-stdin': { kind: 'bool', description: 'Do not attach STDIN' },
    'sig-proxy': { kind: 'bool', default: true, description: 'Proxy all received signals to the process' },
  },
  async run(ctx, flags, args) {
    const client = await ctx.client();
    const info = await client.containerInspect(args[0]!);
    if (!info.State.Running) throw new StatusError(1, 'You cannot attach to a stopped container, start it first');
    if (info.State.Paused) throw new StatusError(1, 'You cannot attach to a paused container, unpause it first');
    const tty = info.Config.Tty === true;
    const stdin = !flags['no-stdin'] && info.Config.OpenStdin === true;
    const hijacked = await client.containerAttach(info.Id, { stream: true, stdin, stdout: true, stderr: true, detachKeys: flags['detach-keys'] });
    const waiting = client.containerWait(info.Id, 'not-running');
    waiting.catch(() => undefined);
    const stopSignals = flags['sig-proxy'] && !tty ? proxySignals((signal) => client.containerKill(info.Id, signal)) : () => undefined;
    const status = await followContainer({
      socket: hijacked.socket,
      tty,
      stdin: stdin ? ctx.stdin : undefined,
      stdout: ctx.stdout,
      stderr: ctx.stderr,
      detachKeys: flags['detach-keys'],
      waiting,
      resize: (h, w) => client.containerResize(info.Id, h, w),
      stopSignals,
    });
    return status === 'detached' ? 0 : status.StatusCode;
  },
});
