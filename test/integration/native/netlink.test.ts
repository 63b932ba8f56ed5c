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
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { native, hasNetlink, UnmountFlags } = require(process.argv[1]);
const ip = (...args) => execFileSync('ip', args).toString();
const inside = (file, ...args) => execFileSync('nsenter', ['--net=' + file, 'ip', '-j', ...args]).toString();
const errorOf = (promise) => promise.then(() => 'none', (err) => ({ code: err.code, syscall: err.syscall }));
(async () => {
  const out = { hasNetlink: hasNetlink() };
  ip('link', 'add', 'br-nl', 'type', 'bridge');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nl-'));
  const file = path.join(dir, 'ns');
  fs.writeFileSync(file, '');
  await native.sandboxCreate(file, [
    { ifname: 'eth0', peer: 'vethnl0', master: 'br-nl', mac: '02:42:0a:58:00:02', mtu: 1400, address: '10.88.0.2', prefixLen: 24, gateway: '10.88.0.1' },
    { ifname: 'eth1', peer: 'vethnl1', master: 'br-nl', mac: '02:42:0a:59:00:02', mtu: 0, address: '10.89.0.2', prefixLen: 16 },
  ]);
  const links = Object.fromEntries(JSON.parse(inside(file, 'link', 'show')).map((l) => [l.ifname, { up: l.flags.includes('UP'), mac: l.address, mtu: l.mtu }]));
  out.links = links;
  out.addresses = JSON.parse(inside(file, 'addr', 'show')).flatMap((l) => l.addr_info.filter((a) => a.family === 'inet').map((a) => l.ifname + ' ' + a.local + '/' + a.prefixlen));
  out.routes = JSON.parse(inside(file, 'route', 'show')).map((r) => r.dst + ' ' + (r.gateway ?? '-') + ' ' + r.dev);
  const host = JSON.parse(ip('-j', 'link', 'show', 'master', 'br-nl')).map((l) => l.ifname + ' ' + l.flags.includes('UP') + ' ' + l.mtu).sort();
  out.hostEnds = host;
  // A second namespace with a host end name already taken fails, naming the step and the file.
  const second = path.join(dir, 'ns2');
  fs.writeFileSync(second, '');
  out.taken = await errorOf(native.sandboxCreate(second, [{ ifname: 'eth0', peer: 'vethnl0', master: 'br-nl', mac: '02:42:0a:58:00:03', mtu: 0, address: '10.88.0.3', prefixLen: 24 }]));
  native.umount(second, UnmountFlags.MNT_DETACH);
  out.noBridge = await errorOf(native.sandboxCreate(second, [{ ifname: 'eth0', peer: 'vethnl9', master: 'nosuchbr', mac: '02:42:0a:58:00:04', mtu: 0, address: '10.88.0.4', prefixLen: 24 }]));
  try { native.sandboxCreate(second, [{ ifname: 'eth0', peer: 'vethnl9', master: 'br-nl', mac: 'nonsense', mtu: 0, address: '10.88.0.4', prefixLen: 24 }]); } catch (err) { out.badMac = err.code; }
  out.deleted = await native.linkDelete('vethnl1');
  out.again = await native.linkDelete('vethnl1');
  out.eth1Gone = !inside(file, 'link', 'show').includes('eth1');
  native.umount(file, UnmountFlags.MNT_DETACH);
  fs.rmSync(dir, { recursive: true });
  process.stdout.write(JSON.stringify(out));
})().catch((err) => { console.error(err); process.exit(1); });
`;

test('rtnetlink from the addon: a sandbox with two veth pairs (addresses, MTU, default route, host ends on the bridge), errors that name the step, and a veth deleted', { skip: needsRoot('needs root (network namespaces)') }, async () => {
  const netns = await createPrivateNetns();
  try {
    const c = netns.command(process.execPath, ['-e', SCRIPT, NATIVE]);
    const r = await runCommand(c.file, c.args);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      hasNetlink: true,
      links: {
        lo: { up: true, mac: '00:00:00:00:00:00', mtu: 65536 },
        eth0: { up: true, mac: '02:42:0a:58:00:02', mtu: 1400 },
        eth1: { up: true, mac: '02:42:0a:59:00:02', mtu: 1500 },
      },
      addresses: ['lo 127.0.0.1/8', 'eth0 10.88.0.2/24', 'eth1 10.89.0.2/16'],
      routes: ['default 10.88.0.1 eth0', '10.88.0.0/24 - eth0', '10.89.0.0/16 - eth1'],
      hostEnds: ['vethnl0 true 1400', 'vethnl1 true 1500'],
      taken: { code: 'EEXIST', syscall: 'RTM_NEWLINK eth0' },
      noBridge: { code: 'ENODEV', syscall: 'if_nametoindex nosuchbr' },
      badMac: 'ERR_INVALID_ARG_TYPE',
      deleted: true,
      again: false,
      eth1Gone: true,
    });
  } finally {
    await netns.close();
  }
});
