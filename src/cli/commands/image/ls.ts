import { defineCommand, FORMAT_FLAG } from '../../command';
import { renderList } from '../../output/format';
import { humanSize, shortId, timeAgo } from '../../output/units';
import type { ImageSummary } from '../../../client/types';
import { formatGoTime } from '../container/ps-context';
import { parseFilters } from '../common';

const HEADERS = { ID: 'IMAGE ID', Repository: 'REPOSITORY', Tag: 'TAG', Digest: 'DIGEST', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', Size: 'SIZE', Containers: 'CONTAINERS', SharedSize: 'SHARED SIZE', UniqueSize: 'UNIQUE SIZE', VirtualSize: 'VIRTUAL SIZE' };
const DEFAULT_TABLE = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
const DIGEST_TABLE = 'table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';

/** One row of `docker images`: an image appears once per repo:tag (or as <none>:<none>). */
class ImageContext {
  constructor(private readonly image: ImageSummary, readonly Repository: string, readonly Tag: string, readonly Digest: string, private readonly trunc: boolean) {}
  get ID(): string {
    return this.trunc ? shortId(this.image.Id) : this.image.Id;
  }
  get CreatedSince(): string {
    return timeAgo(this.image.Created);
  }
  get CreatedAt(): string {
    return formatGoTime(new Date(this.image.Created * 1000));
  }
  get Size(): string {
    return humanSize(this.image.Size, 3);
  }
  get VirtualSize(): string {
    return humanSize(this.image.VirtualSize ?? this.image.Size, 3);
  }
  get SharedSize(): string {
    return this.image.SharedSize < 0 ? 'N/A' : humanSize(this.image.SharedSize, 3);
  }
  get UniqueSize(): string {
    return this.image.SharedSize < 0 ? 'N/A' : humanSize(this.image.Size - this.image.SharedSize, 3);
  }
  get Containers(): string {
    return this.image.Containers < 0 ? 'N/A' : String(this.image.Containers);
  }
  toJSON(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const key of ['Containers', 'CreatedAt', 'CreatedSince', 'Digest', 'ID', 'Repository', 'SharedSize', 'Size', 'Tag', 'UniqueSize', 'VirtualSize']) {
      out[key] = String((this as unknown as Record<string, unknown>)[key]);
    }
    return out;
  }
}

function rows(image: ImageSummary, digests: boolean, trunc: boolean): ImageContext[] {
  const digestOf = (repo: string) => (image.RepoDigests ?? []).find((d) => d.startsWith(`${repo}@`))?.slice(repo.length + 1) ?? '<none>';
  const tags = (image.RepoTags ?? []).filter((t) => t !== '<none>:<none>');
  if (tags.length === 0) {
    const digested = image.RepoDigests ?? [];
    if (digested.length > 0) return digested.map((d) => new ImageContext(image, d.split('@')[0]!, '<none>', d.split('@')[1] ?? '<none>', trunc));
    return [new ImageContext(image, '<none>', '<none>', '<none>', trunc)];
  }
  return tags.map((t) => {
    const colon = t.lastIndexOf(':');
    const repo = t.slice(0, colon);
    return new ImageContext(image, repo, t.slice(colon + 1), digests ? digestOf(repo) : digestOf(repo), trunc);
  });
}

export default defineCommand({
  usage: 'images [OPTIONS] [REPOSITORY[:TAG]]',
  description: 'List images',
  maxArgs: 1,
  flags: {
    all: { kind: 'bool', short: 'a', description: 'Show all images (default hides intermediate images)' },
    digests: { kind: 'bool', description: 'Show digests' },
    filter: { kind: 'strings', short: 'f', description: 'Filter output based on conditions provided', valueName: 'filter' },
    format: FORMAT_FLAG,
    'no-trunc': { kind: 'bool', description: "Don't truncate output" },
    quiet: { kind: 'bool', short: 'q', description: 'Only show image IDs' },
  },
  async run(ctx, flags, args) {
    const client = await ctx.client();
    const filters = parseFilters(flags.filter);
    if (args[0]) (filters.reference ??= []).push(args[0]);
    const images = await client.imageList({ all: flags.all, digests: flags.digests, filters });
    images.sort((a, b) => b.Created - a.Created);
    const trunc = !flags['no-trunc'];
    if (flags.quiet && !flags.format) {
      const seen = new Set<string>();
      for (const image of images) {
        const id = trunc ? shortId(image.Id) : image.Id;
        if (!seen.has(id)) ctx.out(`${id}\n`);
        seen.add(id);
      }
      return;
    }
    const items = images.flatMap((image) => rows(image, flags.digests, trunc));
    const table = flags.digests ? DIGEST_TABLE : DEFAULT_TABLE;
    ctx.out(renderList(flags.format ?? '', items, { defaultTable: table, headers: HEADERS }));
  },
});
