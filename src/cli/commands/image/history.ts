import { defineCommand, FORMAT_FLAG } from '../../command';
import { renderList } from '../../output/format';
import { humanSize, shortId, timeAgo } from '../../output/units';
import type { ImageHistoryItem } from '../../../client/types';
import { formatGoTime } from '../container/ps-context';

const HEADERS = { ID: 'IMAGE', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT' };
const DEFAULT_TABLE = 'table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}';

class HistoryContext {
  constructor(private readonly h: ImageHistoryItem, private readonly trunc: boolean, private readonly human: boolean) {}
  get ID(): string {
    if (this.h.Id.startsWith('<')) return this.h.Id;
    return this.trunc ? shortId(this.h.Id) : this.h.Id;
  }
  get CreatedSince(): string {
    return this.human ? timeAgo(this.h.Created) : formatGoTime(new Date(this.h.Created * 1000));
  }
  get CreatedAt(): string {
    return new Date(this.h.Created * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
  }
  get CreatedBy(): string {
    const text = this.h.CreatedBy.replace(/\t/g, ' ');
    return this.trunc && [...text].length > 45 ? `${[...text].slice(0, 44).join('')}…` : text;
  }
  get Size(): string {
    return this.human ? humanSize(this.h.Size, 3) : String(this.h.Size);
  }
  get Comment(): string {
    return this.h.Comment;
  }
}

export default defineCommand({
  usage: 'history [OPTIONS] IMAGE',
  description: 'Show the history of an image',
  minArgs: 1,
  maxArgs: 1,
  flags: {
    format: FORMAT_FLAG,
    human: { kind: 'bool', short: 'H', default: true, description: 'Print sizes and dates in human readable format' },
    'no-trunc': { kind: 'bool', description: "Don't truncate output" },
    quiet: { kind: 'bool', short: 'q', description: 'Only show image IDs' },
  },
  async run(ctx, flags, args) {
    const client = await ctx.client();
    const items = (await client.imageHistory(args[0]!)).map((h) => new HistoryContext(h, !flags['no-trunc'], flags.human));
    if (flags.quiet) {
      for (const item of items) ctx.out(`${item.ID}\n`);
      return;
    }
    ctx.out(renderList(flags.format ?? '', items, { defaultTable: DEFAULT_TABLE, headers: HEADERS }));
  },
});
