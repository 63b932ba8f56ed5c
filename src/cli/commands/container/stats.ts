import { defineCommand, FORMAT_FLAG } from '../../command';
import { renderList } from '../../output/format';
import type { ContainerStatsResponse } from '../../../client/types';
import { STATS_DEFAULT_TABLE, STATS_HEADERS, StatsEntry } from './stats-entry';

const REFRESH_MS = 1000;

export default defineCommand({
  usage: 'stats [OPTIONS] [CONTAINER...]',
  description: 'Display a live stream of container(s) resource usage statistics',
  flags: {
    all: { kind: 'bool', short: 'a', description: 'Show all containers (default shows just running)' },
    format: FORMAT_FLAG,
    'no-stream': { kind: 'bool', description: 'Disable streaming stats and only pull the first result' },
    'no-trunc': { kind: 'bool', description: 'Do not truncate output' },
  },
  async run(ctx, flags, args) {
    const client = await ctx.client();
    const truncate = !flags['no-trunc'];
    // As docker: named containers keep the name given; the listed ones are shown by id.
    const names = args.length > 0 ? args : (await client.containerList({ all: flags.all })).map((c) => (truncate ? c.Id.slice(0, 12) : c.Id));
    const render = (latest: Map<string, ContainerStatsResponse | undefined>) =>
      renderList(flags.format ?? '', names.map((name) => new StatsEntry(name, latest.get(name), truncate)), { defaultTable: STATS_DEFAULT_TABLE, headers: STATS_HEADERS });

    if (flags['no-stream']) {
      const samples = await Promise.all(
        names.map(async (name) => {
          for await (const sample of client.containerStats(name, { stream: false })) return [name, sample] as const;
          return [name, undefined] as const;
        }),
      );
      ctx.out(render(new Map(samples)));
      return;
    }

    // Live: one stream per container, the table redrawn every second (on a terminal, in place).
    const latest = new Map<string, ContainerStatsResponse | undefined>();
    let failure: unknown;
    const streams = names.map(async (name) => {
      try {
        for await (const sample of client.containerStats(name, { stream: true })) latest.set(name, sample);
      } catch (err: unknown) {
        failure ??= err;
      }
    });
    const clear = process.stdout.isTTY ? '\u001b[2J\u001b[H' : '';
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (failure !== undefined) {
          clearInterval(timer);
          reject(failure);
          return;
        }
        ctx.out(clear + render(latest));
      }, REFRESH_MS);
      void Promise.all(streams).then(() => {
        clearInterval(timer);
        if (failure !== undefined) reject(failure);
        else resolve();
      });
    });
  },
});
