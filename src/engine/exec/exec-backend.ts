import type { AcceptStream, ExecBackend } from '../../api/backend';
import type { ExecConfig, ExecInspect } from '../../api/types/exec';
import type { AttachSession } from '../../util/stdio-streams';
import type { ExecService } from './exec-service';

/** Maps the exec routes onto the exec service. */
export class ExecBackendImpl implements ExecBackend {
  constructor(private readonly service: ExecService) {}

  async create(containerId: string, config: ExecConfig): Promise<{ Id: string }> {
    return this.service.create(containerId, config);
  }

  start(execId: string, opts: { detach: boolean; tty: boolean; consoleSize?: [number, number] }, accept?: AcceptStream): Promise<AttachSession | undefined> {
    return this.service.start(execId, opts, accept);
  }

  async resize(execId: string, height: number, width: number): Promise<void> {
    await this.service.resize(execId, height, width);
  }

  async inspect(execId: string): Promise<ExecInspect> {
    return this.service.inspect(execId) as unknown as ExecInspect;
  }
}
