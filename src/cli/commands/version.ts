import { defineCommand, FORMAT_FLAG } from '../command';
import { renderOne } from '../output/format';
import { CLIENT_API_VERSION } from '../../client/engine-client';
import { errorText } from './common';
import { installRoot } from '../install-root';


export default defineCommand({
  usage: 'version [OPTIONS]',
  description: 'Show the Berth version information',
  maxArgs: 0,
  flags: { format: { ...FORMAT_FLAG, short: 'f' } },
  async run(ctx, flags) {
    const client = { Version: installRoot().version, ApiVersion: CLIENT_API_VERSION, GoVersion: process.version, Os: process.platform, Arch: process.arch };
    let server: unknown = null;
    let serverError: string | undefined;
    try {
      const engine = await ctx.client();
      server = await engine.systemVersion();
      client.ApiVersion = await engine.apiVersion();
    } catch (err: unknown) {
      serverError = await errorText(err);
    }
    if (flags.format) {
      ctx.out(renderOne(flags.format, { Client: client, Server: server }));
    } else {
      ctx.out(`Client:\n Version:           ${client.Version}\n API version:       ${client.ApiVersion}\n Node version:      ${client.GoVersion}\n OS/Arch:           ${client.Os}/${client.Arch}\n`);
      if (server && typeof server === 'object') {
        const s = server as { Version: string; ApiVersion: string; MinAPIVersion: string; Os: string; Arch: string; KernelVersion: string; Platform?: { Name: string } };
        ctx.out(`\nServer: ${s.Platform?.Name ?? ''}\n Engine:\n  Version:          ${s.Version}\n  API version:      ${s.ApiVersion} (minimum version ${s.MinAPIVersion})\n  OS/Arch:          ${s.Os}/${s.Arch}\n  Kernel Version:   ${s.KernelVersion}\n`);
      }
    }
    if (serverError) {
      ctx.err(`${serverError}\n`);
      return 1;
    }
  },
});
