import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { runCommand } from './cli';

/**
 * Debian's python3-docker (5.0.3) as a real client. It must be Debian's /usr/bin/python3:
 * a pyenv python3 earlier on PATH carries another docker version, or none.
 */
export const DEBIAN_PYTHON = '/usr/bin/python3';

/** Why python3-docker cannot be used here, or false when it can. */
export function pythonDockerSkipReason(): string | false {
  if (!existsSync(DEBIAN_PYTHON)) return `${DEBIAN_PYTHON} is not installed`;
  const probe = spawnSync(DEBIAN_PYTHON, ['-c', 'import docker; print(docker.__version__)'], { encoding: 'utf8' });
  if (probe.status !== 0) return 'python3-docker is not installed (apt-get install python3-docker)';
  return false;
}

/**
 * Runs a Python script with `client` bound to a docker.DockerClient on `host`; the script's
 * last act is to print one JSON value, which is returned. Fails with the script's stderr.
 */
export async function runPythonDocker<T>(host: string, script: string, timeoutMs = 120_000): Promise<T> {
  const program = `import docker, json, sys\nclient = docker.DockerClient(base_url=${JSON.stringify(host)}, timeout=60)\n${script}\n`;
  const result = await runCommand(DEBIAN_PYTHON, ['-c', program], { timeoutMs, env: { PYTHONDONTWRITEBYTECODE: '1' } });
  if (result.code !== 0) throw new Error(`python3-docker script failed (${result.code}):\n${result.stderr}`);
  const lines = result.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] ?? 'null') as T;
}
