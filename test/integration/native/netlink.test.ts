import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { needsRoot } from '../../helpers/root';
import { runCommand } from '../../helpers/cli';
import { createPrivateNetns } from '../../helpers/private-netns';

const NATIVE = path.resolve(__dirname, '..', '..', '..', 'src', 'native');

/**
 * The addon's rtnetlink calls act on the calling process's network namespace, so they run in
 * a Node process entered into a namespace of the test's own (never on the host's network).
 */
const SCRIPT = `
const { execFileSync } = require('node:child_process');
const { native, hasNetlink } = require(process.argv[1]);
const ip = (...args) => execFileSync('ip', args).toString();
const link = (name) => JSON.parse(ip('-j', '-d', 'link', 'show', 'dev', name))[0];
const out = { hasNetlink: hasNetlink() };
ip('link', 'add', 'br-nl', 'type', 'bridge');
ip('link', 'add', 'vethnl0', 'type', 'veth', 'peer', 'name', 'vethnl1');
native.linkSetMasterUp('vethnl0', 'br-nl');
const attached = link('vethnl0');
out.master = attached.master;
out.up = attached.flags.includes('UP');
try { native.linkSetMasterUp('nosuchif', 'br-nl'); } catch (err) { out.missing = err.code; }
out.deleted = native.linkDelete('vethnl0');
out.peerGone = !ip('-o', 'link', 'show').includes('vethnl1');
out.again = native.linkDelete('vethnl0');
process.stdout.write(JSON.stringify(out));
`;

test('rtnetlink from the addon: a veth onto a bridge and up, then deleted (its peer with it); a missing device', { skip: needsRoot('needs root (network namespaces)') }, async () => {
  const netns = await createPrivateNetns();
  try {
    const c = netns.command(process.execPath, ['-e', SCRIPT, NATIVE]);
    const r = await runCommand(c.file, c.args);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { hasNetlink: true, master: 'br-nl', up: true, missing: 'ENODEV', deleted: true, peerGone: true, again: false });
  } finally {
    await netns.close();
  }
});
