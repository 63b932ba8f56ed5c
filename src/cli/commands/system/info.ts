import { defineCommand, FORMAT_FLAG } from '../../command';
import { renderOne } from '../../output/format';
import { bytesSize } from '../../output/units';

export default defineCommand({
  usage: 'info [OPTIONS]',
  description: 'Display system-wide information',
  maxArgs: 0,
  flags: { format: { ...FORMAT_FLAG, short: 'f' } },
  async run(ctx, flags) {
    const client = await ctx.client();
    const info = (await client.info()) as unknown as Record<string, unknown>;
    if (flags.format) {
      ctx.out(renderOne(flags.format, info));
      return;
    }
    const field = (name: string) => info[name] ?? '';
    const lines = [
      'Server:',
      ` Containers: ${field('Containers')}`,
      `  Running: ${field('ContainersRunning')}`,
      `  Paused: ${field('ContainersPaused')}`,
      `  Stopped: ${field('ContainersStopped')}`,
      ` Images: ${field('Images')}`,
      ` Server Version: ${field('ServerVersion')}`,
      ` Storage Driver: ${field('Driver')}`,
      ...((info.DriverStatus as [string, string][] | undefined) ?? []).map(([k, v]) => `  ${k}: ${v}`),
      ` Logging Driver: ${field('LoggingDriver')}`,
      ` Cgroup Driver: ${field('CgroupDriver')}`,
      ` Cgroup Version: ${field('CgroupVersion')}`,
      ` Default Runtime: ${field('DefaultRuntime')}`,
      ` Kernel Version: ${field('KernelVersion')}`,
      ` Operating System: ${field('OperatingSystem')}`,
      ` OSType: ${field('OSType')}`,
      ` Architecture: ${field('Architecture')}`,
      ` CPUs: ${field('NCPU')}`,
      ` Total Memory: ${typeof info.MemTotal === 'number' ? bytesSize(info.MemTotal) : ''}`,
      ` Name: ${field('Name')}`,
      ` ID: ${field('ID')}`,
      ` Docker Root Dir: ${field('DockerRootDir')}`,
      ` Debug Mode: ${field('Debug') === true}`,
      ` Experimental: ${field('ExperimentalBuild') === true}`,
      ...registryLines(info.RegistryConfig as RegistryConfig | null | undefined),
      ` Live Restore Enabled: ${field('LiveRestoreEnabled') === true}`,
    ];
    ctx.out(`${lines.join('\n')}\n`);
    for (const warning of (info.Warnings as string[] | null | undefined) ?? []) ctx.err(`${warning}\n`);
  },
});

interface RegistryConfig {
  InsecureRegistryCIDRs?: string[] | null;
  IndexConfigs?: Record<string, { Name: string; Secure: boolean }> | null;
  Mirrors?: string[] | null;
}

/** docker's "Insecure Registries" (named ones, then CIDRs) and "Registry Mirrors" sections. */
function registryLines(config: RegistryConfig | null | undefined): string[] {
  if (!config) return [];
  const lines: string[] = [];
  const cidrs = config.InsecureRegistryCIDRs ?? [];
  const indexes = Object.values(config.IndexConfigs ?? {});
  if (cidrs.length > 0 || indexes.length > 0) {
    lines.push(' Insecure Registries:', ...indexes.filter((i) => !i.Secure).map((i) => `  ${i.Name}`), ...cidrs.map((c) => `  ${c}`));
  }
  if ((config.Mirrors ?? []).length > 0) lines.push(' Registry Mirrors:', ...config.Mirrors!.map((m) => `  ${m}`));
  return lines;
}
