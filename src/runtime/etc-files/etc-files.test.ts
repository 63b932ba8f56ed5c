import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { hostnameContent, hostsContent, resolvConfContent, writeEtcFiles } from './etc-files';

test('hosts: Docker head, extra hosts, hostname line only with an ip', () => {
  const none = hostsContent({ hostname: 'abc' });
  assert.equal(none.split('\n')[0], '127.0.0.1\tlocalhost');
  assert.ok(!none.includes('abc'));
  const bridged = hostsContent({ hostname: 'abc', ip: '172.17.0.2', extraHosts: [{ host: 'db', ip: '10.0.0.5' }] });
  assert.ok(bridged.endsWith('10.0.0.5\tdb\n172.17.0.2\tabc\n'));
  assert.ok(hostsContent({ hostname: 'abc', domainname: 'example.com', ip: '1.2.3.4' }).includes('1.2.3.4\tabc.example.com abc'));
  assert.equal(hostnameContent('abc'), 'abc\n');
});

test('resolv.conf: loopback and ipv6 servers dropped, fallback to Google DNS', () => {
  const host = '# generated\nnameserver 127.0.0.53\nnameserver ::1\nsearch corp.example\noptions edns0\n';
  assert.equal(resolvConfContent({ hostResolvConf: host }), '# generated\nnameserver 8.8.8.8\nnameserver 8.8.4.4\nsearch corp.example\noptions edns0\n');
  const mixed = 'nameserver 10.0.0.1\nnameserver 2001:db8::1\n';
  assert.equal(resolvConfContent({ hostResolvConf: mixed }), 'nameserver 10.0.0.1\n');
  assert.equal(resolvConfContent({ hostResolvConf: mixed, ipv6: true }), 'nameserver 10.0.0.1\nnameserver 2001:db8::1\n');
  assert.equal(resolvConfContent({ hostResolvConf: host, hostNetwork: true }), host);
  assert.equal(resolvConfContent({ hostResolvConf: host, dns: ['1.1.1.1'], dnsSearch: ['a.b'], dnsOptions: ['ndots:2'] }), '# generated\nnameserver 1.1.1.1\nsearch a.b\noptions ndots:2\n');
});

test('writeEtcFiles writes the three files', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'etc-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const paths = await writeEtcFiles(path.join(dir, 'c1'), { hostname: 'h\n', hosts: 'x\n', resolvConf: 'nameserver 8.8.8.8\n' });
  assert.equal(await fs.readFile(paths.hostname, 'utf8'), 'h\n');
  assert.equal(await fs.readFile(paths.hosts, 'utf8'), 'x\n');
  assert.equal(await fs.readFile(paths.resolvConf, 'utf8'), 'nameserver 8.8.8.8\n');
});

test('writeEtcFiles leaves a file that holds its content already, and replaces one that differs or was edited', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'etc-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const content = { hostname: 'h\n', hosts: 'x\n', resolvConf: 'nameserver 8.8.8.8\n' };
  const paths = await writeEtcFiles(path.join(dir, 'c1'), content);
  const inode = async (file: string) => (await fs.stat(file)).ino;
  const before = { hostname: await inode(paths.hostname), hosts: await inode(paths.hosts), resolvConf: await inode(paths.resolvConf) };
  // A start on the default bridge: the same hostname and resolv.conf, hosts with the address.
  await fs.writeFile(paths.resolvConf, 'nameserver 6.6.6.6\n'); // edited in place (a container's bind mount)
  await writeEtcFiles(path.join(dir, 'c1'), { ...content, hosts: 'x\n172.17.0.2\th\n' });
  assert.equal(await inode(paths.hostname), before.hostname, 'the same content: not replaced');
  assert.notEqual(await inode(paths.hosts), before.hosts, 'new content: replaced');
  assert.equal(await fs.readFile(paths.hosts, 'utf8'), 'x\n172.17.0.2\th\n');
  assert.equal(await fs.readFile(paths.resolvConf, 'utf8'), 'nameserver 8.8.8.8\n', 'an edited file is written again');
  assert.deepEqual((await fs.readdir(path.join(dir, 'c1'))).sort(), ['hostname', 'hosts', 'resolv.conf']);
});
