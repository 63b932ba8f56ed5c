import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { CommandResult, DOCKER_CLIENTS, runCommand } from '../../helpers/cli';
import type { PrivateDockerd } from '../../helpers/private-dockerd';

/** The docker CLI against a private dockerd, with a config folder of the test's own (for login). */
export interface DockerPeer {
  configDir: string;
  run(args: string[], input?: string): Promise<CommandResult>;
}

export async function dockerPeer(dockerd: PrivateDockerd, tmp: string): Promise<DockerPeer> {
  const configDir = await fs.mkdtemp(path.join(tmp, 'docker-config-'));
  return {
    configDir,
    run: (args, input) =>
      runCommand(DOCKER_CLIENTS[0]!, ['-H', dockerd.host, ...args], { input, env: { DOCKER_CONFIG: configDir, DOCKER_CLI_HINTS: 'false' }, timeoutMs: 180_000 }),
  };
}

/** Fails with the command's output unless it succeeded. */
export function ok(r: CommandResult, what: string): CommandResult {
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  return r;
}
