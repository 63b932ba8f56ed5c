import { defineCommand } from '../../command';
import { demuxTo } from '../../../client/stdcopy';
import { parseTimestampFlag } from '../../output/units';

export default defineCommand({
  usage: 'logs [OPTIONS] CONTAINER',
  description: 'Fetch the logs of a container',
  minArgs: 1,
  maxArgs: 1,
  flags: {
    details: { kind: 'bool', description: 'Show extra details provided to logs' },
    follow: { kind: 'bool', short: 'f', description: 'Follow log output' },
    since: { kind: 'string', description: 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
    tail: { kind: 'string', short: 'n', description: 'Number of lines to show from the end of the logs', default: 'all' },
    timestamps: { kind: 'bool', short: 't', description: 'Show timestamps' },
    until: { kind: 'string', description: 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
  },
  async run(ctx, flags, args) {
    const client = await ctx.client();
    const info = await client.containerInspect(args[0]!);
    const res = await client.containerLogs(info.Id, {
      follow: flags.follow,
      since: flags.since ? parseTimestampFlag(flags.since) : undefined,
      until: flags.until ? parseTimestampFlag(flags.until) : undefined,
      timestamps: flags.timestamps,
      tail: flags.tail,
    });
    if (info.Config.Tty) {
      for await (const chunk of res) ctx.stdout.write(chunk as Buffer);
    } else {
      await demuxTo(res, { stdout: ctx.stdout, stderr: ctx.stderr });
    }
  },
});
