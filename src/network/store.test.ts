import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NetworkStore } from './store';
import type { EndpointRecord, NetworkRecord } from './types';

const network = { Id: 'n1', Name: 'front', bridge: 'br-n1', subnet: '10.9.0.0/24', gateway: '10.9.0.1', Options: {} } as unknown as NetworkRecord;
const endpoint: EndpointRecord = { EndpointID: 'e1', NetworkID: 'n1', ContainerID: 'c1', ifname: 'eth0', hostIfname: 'veth1234567', IPAddress: '10.9.0.2', IPPrefixLen: 24, Gateway: '10.9.0.1', MacAddress: '02:42:0a:09:00:02' };

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ns-store-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

test('networks and endpoints survive a new store on the same folder, in two files', async (t) => {
  const dir = await tempDir(t);
  const store = new NetworkStore(dir);
  await store.init();
  await store.putNetwork(network);
  await store.putEndpoint(endpoint);
  const again = new NetworkStore(dir);
  await again.init();
  assert.deepEqual(again.listNetworks(), [network]);
  assert.deepEqual(again.listEndpoints(), [endpoint]);
  const networksFile = JSON.parse(await fs.readFile(path.join(dir, 'networks.json'), 'utf8'));
  assert.equal(networksFile.endpoints, undefined, 'endpoints are not in the fsynced networks file');
  await again.deleteEndpoints(['e1']);
  const third = new NetworkStore(dir);
  await third.init();
  assert.deepEqual(third.listEndpoints(), []);
});

test('endpoints of an older networks.json are read and moved to endpoints.json', async (t) => {
  const dir = await tempDir(t);
  await fs.writeFile(path.join(dir, 'networks.json'), JSON.stringify({ schemaVersion: 1, networks: [network], endpoints: [endpoint] }));
  const store = new NetworkStore(dir);
  await store.init();
  assert.deepEqual(store.listEndpoints(), [endpoint]);
  assert.equal(JSON.parse(await fs.readFile(path.join(dir, 'networks.json'), 'utf8')).endpoints, undefined);
  assert.deepEqual(JSON.parse(await fs.readFile(path.join(dir, 'endpoints.json'), 'utf8')).endpoints, [endpoint]);
});

test('a torn endpoints file (a power loss: it is not fsynced) is read as no endpoints, the networks stay', async (t) => {
  const dir = await tempDir(t);
  const store = new NetworkStore(dir);
  await store.init();
  await store.putNetwork(network);
  await fs.writeFile(path.join(dir, 'endpoints.json'), '{"schemaVersion":1,"endpo');
  const again = new NetworkStore(dir);
  await again.init();
  assert.deepEqual(again.listNetworks(), [network]);
  assert.deepEqual(again.listEndpoints(), []);
});
