import type { ExecBackend } from '../../backend';
import { execCreateBody, execStartBody } from '../../schemas/decoders';
import { invalidArgument } from '../../../errors';
import type { Logger } from '../../../util/logger';
import type { Router } from '../router';
import { versionAtLeast } from '../api-version';
import { streamSession } from '../pump-attach';
import { streamContentType } from '../stdio-framing';
import { readSize } from './containers';

/** Exec routes, after moby's postContainerExecCreate/Start. */
export function addExecRoutes(router: Router, backend: ExecBackend, logger: Logger): void {
  router.post('/containers/{name}/exec', async (ex) => {
    const config = await ex.readBody(execCreateBody);
    if (config === undefined || !Array.isArray(config.Cmd) || config.Cmd.length === 0) {
      throw invalidArgument('No exec command specified');
    }
    const created = await backend.create(ex.param('name'), config);
    ex.json(201, { Id: created.Id });
  });

  router.post('/exec/{name}/start', async (ex) => {
    const body = (await ex.readBody(execStartBody)) ?? {};
    const detach = body.Detach === true;
    const tty = body.Tty === true;
    // The CLI sends [0,0] when its terminal has no size; that means "unknown", not 0x0.
    const size = body.ConsoleSize;
    const consoleSize = Array.isArray(size) && size.length === 2 && size[0] > 0 && size[1] > 0 ? size : undefined;
    const options = { detach, tty, consoleSize };
    if (detach) {
      await backend.start(ex.param('name'), options);
      ex.empty(200);
      return;
    }
    const multiplexedOk = versionAtLeast(ex.apiVersion, '1.42');
    const contentTypeFor = (sessionTty: boolean) => (ex.wantsUpgrade ? streamContentType(sessionTty, multiplexedOk) : streamContentType(true, false));
    // As moby: a start that fails once the headers are out tells the client in the stream.
    await streamSession(ex, (accept) => backend.start(ex.param('name'), options, accept), contentTypeFor, logger, { errorInStream: true });
  });

  router.post('/exec/{name}/resize', async (ex) => {
    const { height, width } = readSize(ex);
    await backend.resize(ex.param('name'), height, width);
    ex.empty(200);
  });

  router.get('/exec/{name}/json', async (ex) => {
    ex.json(200, await backend.inspect(ex.param('name')));
  });
}
