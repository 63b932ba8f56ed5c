import { promises as fs } from 'node:fs';
import { StatusError } from '../../command';

/**
 * `--cidfile`: docker/cli's cidFile. The file is made before the create (an existing one
 * refuses the run, so two containers cannot claim it), removed when the create fails, and
 * gets the ID once the container exists.
 */
export class CidFile {
  private constructor(
    private readonly path: string,
    private readonly handle: fs.FileHandle,
  ) {}

  static async create(path: string): Promise<CidFile> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(path, 'wx', 0o644);
    } catch (err: unknown) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new StatusError(125, `container ID file found, make sure the other container isn't running or delete ${path}`);
      }
      throw new StatusError(125, `failed to create the container ID file: ${(err as Error).message}`);
    }
    return new CidFile(path, handle);
  }

  async write(id: string): Promise<void> {
    try {
      await this.handle.writeFile(id);
    } catch (err: unknown) {
      throw new StatusError(125, `failed to write the container ID to the file: ${(err as Error).message}`);
    } finally {
      await this.handle.close();
    }
  }

  async remove(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await fs.rm(this.path, { force: true });
  }
}
