import { defineCommand } from '../../command';
import { eraseCredentials, serverKey } from '../../docker-config';

/** docker logout: removes the stored login of a registry (config.json or the credential helper). */
export default defineCommand({
  usage: 'logout [SERVER]',
  description: 'Log out from a registry.\nIf no server is specified, the default is defined by the daemon.',
  minArgs: 0,
  maxArgs: 1,
  flags: {},
  async run(ctx, _flags, args) {
    const key = serverKey(args[0]);
    if (!(await eraseCredentials(key))) {
      ctx.out(`Not logged in to ${key}\n`);
      return 0;
    }
    ctx.out(`Removing login credentials for ${key}\n`);
    return 0;
  },
});
