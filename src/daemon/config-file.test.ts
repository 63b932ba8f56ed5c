import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseDaemonArgs, type DaemonConfig } from './config';
import { applyConfigFile } from './config-file';

async function withFile(content: string | undefined, args: string[], check: (config: () => Promise<DaemonConfig>, file: string) => Promise<void>): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-daemon-json-'));
  const file = path.join(dir, 'daemon.json');
  try {
    if (content !== undefined) await fs.writeFile(file, content);
    const flags = parseDaemonArgs(['--config-file', file, ...args]);
    assert.notEqual(flags, 'help');
    await check(() => applyConfigFile(flags as DaemonConfig), file);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

test('registry settings come from flags or the file, normalised as dockerd does', async () => {
  await withFile('{"registry-mirrors": ["http://127.0.0.1:5001"], "insecure-registries": ["reg.lan:5000"]}', [], async (load) => {
    const c = await load();
    assert.deepEqual(c.registryMirrors, ['http://127.0.0.1:5001/']);
    assert.deepEqual(c.insecureRegistries, ['reg.lan:5000']);
  });
  await withFile('{}', ['--registry-mirror', 'https://mirror.lan', '--insecure-registry', '10.0.0.0/8'], async (load) => {
    const c = await load();
    assert.deepEqual(c.registryMirrors, ['https://mirror.lan/']);
    assert.deepEqual(c.insecureRegistries, ['10.0.0.0/8']);
  });
});

test('a missing default file is fine; a missing --config-file is not', async () => {
  const flags = parseDaemonArgs([]) as DaemonConfig;
  assert.equal(flags.configFile.explicit, false);
  await withFile(undefined, [], async (load, file) => {
    await assert.rejects(load(), { message: `unable to configure the Docker daemon with file ${file}: open ${file}: no such file or directory` });
  });
});

test('bad files and conflicts are refused with dockerd\'s wording', async () => {
  await withFile('{"registry-mirrors": [', [], async (load, file) => {
    await assert.rejects(load(), (err: Error) => err.message.startsWith(`unable to configure the Docker daemon with file ${file}: `));
  });
  await withFile('{"bogus": 1, "registry-mirrors": []}', [], async (load, file) => {
    await assert.rejects(load(), { message: `unable to configure the Docker daemon with file ${file}: the following directives don't match any configuration option: bogus` });
  });
  await withFile('{"registry-mirrors": ["http://a.lan"]}', ['--registry-mirror', 'http://b.lan'], async (load, file) => {
    await assert.rejects(load(), {
      message: `unable to configure the Docker daemon with file ${file}: the following directives are specified both as a flag and in the configuration file: registry-mirrors: (from flag: [http://b.lan], from file: [http://a.lan])`,
    });
  });
  await withFile('{"registry-mirrors": "http://a.lan"}', [], async (load) => {
    await assert.rejects(load(), /registry-mirrors must be a list of strings/);
  });
});

test('bad mirrors and insecure registries stop the daemon at start', async () => {
  await withFile('{}', ['--registry-mirror', 'ftp://x.lan'], async (load) => {
    await assert.rejects(load(), { message: 'invalid mirror: unsupported scheme "ftp" in "ftp://x.lan"' });
  });
  await withFile('{}', ['--registry-mirror', 'http://x.lan/path'], async (load) => {
    await assert.rejects(load(), { message: 'invalid mirror: path, query, or fragment at end of the URI "http://x.lan/path"' });
  });
  await withFile('{}', ['--insecure-registry', 'http://x.lan'], async (load) => {
    await assert.rejects(load(), { message: "insecure registry http://x.lan should not contain '://'" });
  });
});
