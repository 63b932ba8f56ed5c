import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { diffSnapshots, snapshotNetwork } from '../test/helpers/host-network';

/**
 * `npm test`: runs the suite with node's test runner (files one at a time), and fails if the
 * suite changed the host's network: interfaces, addresses, routes, policy rules, forwarding
 * switches or firewall rules, recorded before and compared after (test/helpers/host-network.ts).
 * Arguments replace the default `dist/` (e.g. one compiled test file).
 */
const REPO_ROOT = path.resolve(__dirname, '..', '..');

async function main(): Promise<number> {
  const targets = process.argv.slice(2);
  const before = await snapshotNetwork();
  const child = spawn(process.execPath, ['--test', '--test-concurrency=1', ...(targets.length > 0 ? targets : ['dist/'])], { cwd: REPO_ROOT, stdio: 'inherit' });
  const code = await new Promise<number>((resolve) => child.on('exit', (status, signal) => resolve(status ?? (signal ? 128 : 1))));
  const changes = diffSnapshots(before, await snapshotNetwork());
  if (changes.length > 0) {
    process.stderr.write(`\nFAIL: the test suite changed the host's network (it must only touch namespaces it owns):\n${changes.join('\n')}\n`);
    return 1;
  }
  process.stdout.write("host network check: interfaces, addresses, routes, rules and firewall unchanged by the suite\n");
  return code;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
