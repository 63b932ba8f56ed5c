import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { request, startHarness, type Harness } from './harness';

/**
 * The real docker CLIs against the API server with fake backends: proves the protocol
 * details (ping negotiation, hijacked attach, wait-before-start, stdin half-close, framing).
 */
const CLIENTS = [
  { name: 'docker 28', bin: '/usr/local/bin/docker', api: '1.45' },
  { name: 'docker 20.10', bin: '/usr/bin/docker', api: '1.41' },
];

let h: Harness;
let configDir: string;
before(async () => {
  h = await startHarness();
  configDir = await fs.mkdtemp(path.join(os.tmpdir(), 'bapi-cfg-'));
});
after(async () => {
  await h.stop();
  await fs.rm(configDir, { recursive: true, force: true });
});

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function docker(bin: string, args: string[], input?: string): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(
      bin,
      ['-H', `unix://${h.socketPath}`, ...args],
      { env: { ...process.env, DOCKER_CONFIG: configDir }, timeout: 20000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(input ?? '');
  });
}

for (const client of CLIENTS) {
  const skip = existsSync(client.bin) ? false : `${client.bin} is not installed`;

  test(`${client.name}: version and ps`, { skip }, async () => {
    h.requests.length = 0;
    const version = await docker(client.bin, ['version', '--format', '{{.Server.Version}} {{.Server.APIVersion}} {{.Client.APIVersion}}']);
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout.trim(), `0.1.0 1.45 ${client.api}`);
    assert.ok(h.requests.includes('HEAD /_ping'), 'negotiates with HEAD /_ping');
    const ps = await docker(client.bin, ['ps', '-a']);
    assert.equal(ps.code, 0, ps.stderr);
    assert.match(ps.stdout, /^CONTAINER ID\s+IMAGE/);
  });

  test(`${client.name}: run --rm busybox echo hi`, { skip }, async () => {
    h.requests.length = 0;
    const run = await docker(client.bin, ['run', '--rm', 'busybox', 'echo', 'hi']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'hi\n');
    const received = h.requests.filter((r) => !r.startsWith('  done'));
    const attachAt = received.findIndex((r) => /\/attach\?.*\(Upgrade: tcp\)$/.test(r));
    const waitAt = received.findIndex((r) => /\/wait\?condition=removed$/.test(r));
    const startAt = received.findIndex((r) => /\/start$/.test(r));
    assert.ok(attachAt >= 0 && waitAt >= 0 && startAt > Math.max(attachAt, waitAt), received.join('\n'));
  });

  test(`${client.name}: run -i pipes stdin and half-closes`, { skip }, async () => {
    const run = await docker(client.bin, ['run', '-i', '--rm', 'busybox', 'cat'], 'line one\nline two\n');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'line one\nline two\n');
  });

  test(`${client.name}: exit code and stderr of a failing container; logs; rm`, { skip }, async () => {
    const name = `fails-${client.api}`;
    const run = await docker(client.bin, ['run', '--name', name, 'busybox', 'sh', '-c', 'exit 5']);
    assert.equal(run.code, 5);
    assert.equal(run.stderr, 'bye\n');
    const logs = await docker(client.bin, ['logs', '-t', name]);
    assert.equal(logs.stdout, '2024-01-01T00:00:00.000000001Z out line\n');
    assert.equal(logs.stderr, '2024-01-01T00:00:00.000000002Z err line\n');
    assert.equal((await docker(client.bin, ['rm', name])).stdout, `${name}\n`);
    const missing = await docker(client.bin, ['inspect', name]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /No such (container|object)/);
  });

  test(`${client.name}: exec, save and load`, { skip }, async () => {
    const name = `svc-${client.api}`;
    await request(h.socketPath, 'POST', `/containers/create?name=${name}`, { Image: 'busybox', Cmd: ['sleep'] });
    await request(h.socketPath, 'POST', `/containers/${name}/start`);
    const exec = await docker(client.bin, ['exec', name, 'echo', 'in', 'exec']);
    assert.equal(exec.code, 3);
    assert.equal(exec.stdout, 'in exec\n');
    assert.equal(exec.stderr, 'to stderr\n');
    const piped = await docker(client.bin, ['exec', '-i', name, 'cat'], 'to cat\n');
    assert.equal(piped.stdout, 'to cat\n');

    const tarPath = path.join(configDir, `save-${client.api}.tar`);
    const save = await docker(client.bin, ['save', '-o', tarPath, 'busybox', 'debian']);
    assert.equal(save.code, 0, save.stderr);
    assert.equal(await fs.readFile(tarPath, 'utf8'), 'tar of busybox,debian');
    const load = await docker(client.bin, ['load', '-i', tarPath]);
    assert.equal(load.code, 0, load.stderr);
    assert.equal(load.stdout, 'Loaded image: fake:21\n');
  });
}
