import { runCommand, type CommandResult } from '../../test/helpers/cli';

export { runCommand };
export type { CommandResult };
export { findProcesses, rssBytes, unmountUnder } from '../../test/helpers/processes';

/** Like runCommand, but throws with stderr on a non-zero exit. */
export async function mustRun(file: string, args: string[], options: { input?: Buffer | string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CommandResult> {
  const result = await runCommand(file, args, options);
  if (result.code !== 0) throw new Error(`${file} ${args.join(' ')}: exited with ${result.code}: ${result.stderr.trim()}`);
  return result;
}
