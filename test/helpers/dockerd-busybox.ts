import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCommand } from './cli';
import { makeFixtureImage, writeDockerArchive } from './fixture-image';
import { startPrivateDockerd, type PrivateDockerd } from './private-dockerd';

export const DOCKER_20 = '/usr/bin/docker';

/** A private dockerd with `busybox:latest` loaded (the fixture of berth's bootstrap layer), for builds side by side. */
export async function startDockerdWithBusybox(): Promise<PrivateDockerd> {
  const dockerd = await startPrivateDockerd();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bb-'));
  try {
    const image = await makeFixtureImage(path.join(dir, 'layout'), { compression: 'gzip', format: 'docker' });
    await writeDockerArchive(image, path.join(dir, 'busybox.tar'), 'busybox:latest');
    const load = await runCommand(DOCKER_20, ['-H', dockerd.host, 'load', '-i', path.join(dir, 'busybox.tar')]);
    if (load.code !== 0) throw new Error(`docker load: ${load.stderr}`);
  } catch (err) {
    await dockerd.stop();
    throw err;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
  return dockerd;
}
