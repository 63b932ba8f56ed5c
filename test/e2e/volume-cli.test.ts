import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapBusybox, needsRoot, startTestDaemon, type TestDaemon } from '../helpers/test-daemon';
import { berth, type CommandResult, docker, DOCKER_CLIENTS } from '../helpers/cli';

const DOCKER_28 = DOCKER_CLIENTS.find((c) => c === '/usr/local/bin/docker');
const skip = needsRoot('needs root (runc, overlay mounts)') || (DOCKER_28 ? false : 'docker CLI 28 not installed');

/** What a run printed and returned, with volume/container IDs and each side's name prefix made equal. */
function normalised(r: CommandResult, prefix?: string): { stdout: string; stderr: string; code: number } {
  const clean = (text: string) => {
    const ids = text.replace(/\b[0-9a-f]{64}\b/g, '<ID>');
    return prefix ? ids.replaceAll(`${prefix}-`, 'N-') : ids;
  };
  return { stdout: clean(r.stdout), stderr: clean(r.stderr), code: r.code };
}

/**
 * `berth volume ...` against docker CLI 28's `docker volume ...`, both talking to the same
 * berthd: the output, messages and exit codes must be docker's.
 */
describe('berth volume against docker CLI 28', { skip }, () => {
  let daemon: TestDaemon;

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
  });
  after(async () => {
    await daemon?.stop();
  });

  /** Runs the same command with both CLIs on the same state (read-only commands) and compares. */
  async function same(args: string[], input?: string): Promise<CommandResult> {
    const fromDocker = await docker(DOCKER_28!, daemon.host, ['volume', ...args], { input });
    const fromBerth = await berth(daemon.host, ['volume', ...args], { input });
    assert.deepEqual(normalised(fromBerth), normalised(fromDocker), `volume ${args.join(' ')}`);
    return fromBerth;
  }

  /**
   * Runs a command that changes state once per CLI, each on its own objects: "N-" in `args`
   * is "dk-" for docker and "bt-" for berth (docker first), and the answers are compared.
   */
  async function paired(args: string[], input?: string): Promise<CommandResult> {
    const fromDocker = await docker(DOCKER_28!, daemon.host, ['volume', ...args.map((a) => a.replaceAll('N-', 'dk-'))], { input });
    const fromBerth = await berth(daemon.host, ['volume', ...args.map((a) => a.replaceAll('N-', 'bt-'))], { input });
    assert.deepEqual(normalised(fromBerth, 'bt'), normalised(fromDocker, 'dk'), `volume ${args.join(' ')}`);
    return fromBerth;
  }

  async function berthOk(args: string[]): Promise<string> {
    const r = await berth(daemon.host, args);
    assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }

  it('create: named (twice: idempotent), labelled, anonymous, and the errors', async () => {
    assert.equal((await paired(['create', 'N-plain'])).stdout, 'bt-plain\n');
    assert.equal((await paired(['create', 'N-plain'])).code, 0);
    await paired(['create', '--label', 'tier=db', '--label', 'bare', '-d', 'local', 'N-labelled']);
    assert.match((await paired(['create'])).stdout, /^[0-9a-f]{64}\n$/);
    const badDriver = await paired(['create', '-d', 'nosuch', 'N-x']);
    assert.equal(badDriver.code, 1);
    assert.match(badDriver.stderr, /^Error response from daemon: .*nosuch/);
    assert.equal((await paired(['create', '-o', 'type=tmpfs', 'N-opts'])).code, 1);
    assert.equal((await paired(['create', '--name', 'N-a', 'N-b'])).code, 1);
    assert.deepEqual(JSON.parse(await berthOk(['volume', 'inspect', '-f', '{{json .Labels}}', 'bt-labelled'])), { tier: 'db', bare: '' });
  });

  it('ls: table in natural order, -q, --filter, --format (table, template, json)', async () => {
    await berthOk(['volume', 'create', 'v10']);
    await berthOk(['volume', 'create', 'v2']);
    const table = (await same(['ls'])).stdout;
    assert.match(table, /^DRIVER {4}VOLUME NAME\n/);
    const names = (await same(['ls', '-q'])).stdout.split('\n');
    assert.ok(names.indexOf('v2') < names.indexOf('v10'), 'v2 sorts before v10');
    assert.ok(names.includes('bt-plain') && names.includes('dk-plain'));
    await same(['ls', '--filter', 'dangling=true']);
    await same(['ls', '--filter', 'dangling=false']);
    await same(['ls', '--filter', 'name=plain']);
    await same(['ls', '--filter', 'driver=local', '-q']);
    assert.equal((await same(['ls', '--filter', 'label=tier=db', '--format', '{{.Name}} {{.Label "tier"}}'])).stdout, 'bt-labelled db\ndk-labelled db\n');
    await same(['ls', '--format', 'table {{.Name}}\t{{.Scope}}\t{{.Links}}\t{{.Size}}\t{{.Mountpoint}}']);
    // Not the labelled ones: docker joins the labels in Go's random map order.
    await same(['ls', '--filter', 'name=plain', '--format', 'json']);
    await same(['ls', '--filter', 'name=v', '--format', '{{json .}}']);
    await same(['ls', '-q', '--format', '{{.Driver}}']);
    assert.equal((await same(['ls', '--filter', 'bogus=1'])).code, 1);
    // A filter without "=" is a usage error: status 125, the flag named (the usage text after it is berth's own).
    for (const [args, flag] of [[['ls', '-f', 'dangling'], '-f, --filter'], [['prune', '-f', '--filter', 'dangling'], '--filter']] as const) {
      const fromDocker = await docker(DOCKER_28!, daemon.host, ['volume', ...args]);
      const fromBerth = await berth(daemon.host, ['volume', ...args]);
      assert.deepEqual([fromBerth.code, fromBerth.stderr.split('\n')[0]], [fromDocker.code, fromDocker.stderr.split('\n')[0]]);
      assert.equal(fromBerth.stderr.split('\n')[0], `invalid argument "dangling" for "${flag}" flag: bad format of filter (expected name=value)`);
      assert.equal(fromBerth.code, 125);
    }
  });

  it('inspect: one or more, --format template and json, a missing one', async () => {
    await berthOk(['volume', 'create', '--label', 'html=<a&b>', 'v-escaped']);
    const one = await same(['inspect', 'bt-labelled']);
    assert.equal((JSON.parse(one.stdout) as Array<{ Name: string }>)[0]!.Name, 'bt-labelled');
    await same(['inspect', 'v-escaped', 'v2']);
    await same(['inspect', '--format', 'json', 'v-escaped', 'v2']);
    await same(['inspect', '-f', '{{.Name}} {{.Driver}} {{.Labels}}', 'bt-labelled', 'v2']);
    // Fields Go leaves out of the JSON are its zero values in a template.
    assert.equal((await same(['inspect', '-f', '{{.Status}}|{{.ClusterVolume}}|{{.UsageData}}|{{.Options}}', 'v2'])).stdout, 'map[]|<nil>|<nil>|map[]\n');
    const missing = await same(['inspect', 'nosuch']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, '[]\n');
    assert.match(missing.stderr, /^Error response from daemon: .*nosuch.*\n$/);
    // The ones found are printed, the missing ones reported after them.
    const mixed = await same(['inspect', 'v2', 'nosuch']);
    assert.equal(mixed.code, 1);
    assert.equal((JSON.parse(mixed.stdout) as unknown[]).length, 1);
  });

  it('rm: removes, refuses a volume in use (status 1), -f on a missing one', async () => {
    await paired(['create', 'N-gone']);
    await paired(['create', 'N-spare']);
    assert.equal((await paired(['rm', 'N-gone'])).stdout, 'bt-gone\n');
    for (const side of ['dk', 'bt']) await berthOk(['create', '--name', `${side}-user`, '-v', `${side}-used:/data`, 'busybox', 'true']);
    const inUse = await paired(['rm', 'N-used', 'N-spare']);
    assert.equal(inUse.code, 1);
    assert.equal(inUse.stdout, 'bt-spare\n');
    assert.match(inUse.stderr, /^Error response from daemon: remove bt-used: volume is in use - \[[0-9a-f]{64}\]\n$/);
    const missing = await paired(['rm', 'N-nosuch']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^Error response from daemon: .*bt-nosuch/);
    assert.equal((await paired(['rm', '-f', 'N-nosuch'])).code, 0);
    for (const side of ['dk', 'bt']) await berthOk(['rm', `${side}-user`]);
  });

  it('prune: declined, anonymous only, -a with a label filter and the space reclaimed, conflicting --all', async () => {
    await berthOk(['volume', 'prune', '-f']); // the anonymous volumes made above
    const declined = await paired(['prune'], 'n\n');
    assert.match(declined.stdout, /^WARNING! This will remove anonymous local volumes not used by at least one container\.\nAre you sure you want to continue\? \[y\/N\] $/);
    assert.equal(declined.code, 0);
    await paired(['prune', '-a'], 'n\n');
    // Each side prunes the anonymous volume made just before it: one deleted, named ones kept.
    const anonymous = async (cli: 'docker' | 'berth') => {
      const made = cli === 'docker' ? await docker(DOCKER_28!, daemon.host, ['volume', 'create']) : await berth(daemon.host, ['volume', 'create']);
      const pruned = cli === 'docker' ? await docker(DOCKER_28!, daemon.host, ['volume', 'prune', '-f']) : await berth(daemon.host, ['volume', 'prune', '-f']);
      assert.equal(pruned.stdout, `Deleted Volumes:\n${made.stdout}\nTotal reclaimed space: 0B\n`);
      return pruned;
    };
    assert.deepEqual(normalised(await anonymous('berth'), 'bt'), normalised(await anonymous('docker'), 'dk'));
    assert.match(await berthOk(['volume', 'ls', '-q']), /^bt-plain$/m);
    // Named volumes holding data, labelled per side: -a with label=side=N-x removes only that side's.
    for (const side of ['dk', 'bt']) {
      await berthOk(['volume', 'create', '--label', `side=${side}-x`, `${side}-data`]);
      await berthOk(['run', '--rm', '-v', `${side}-data:/d`, 'busybox', 'sh', '-c', 'head -c 100000 /dev/zero > /d/f']);
    }
    const all = await paired(['prune', '-a', '-f', '--filter', 'label=side=N-x']);
    assert.equal(all.stdout, 'Deleted Volumes:\nbt-data\n\nTotal reclaimed space: 100kB\n');
    assert.doesNotMatch(await berthOk(['volume', 'ls', '-q']), /-data$/m);
    const conflict = await same(['prune', '-a', '-f', '--filter', 'all=1']);
    assert.equal(conflict.code, 1);
    assert.equal(conflict.stderr, 'conflicting options: cannot specify both --all and --filter all=1\n');
  });

  it('is listed in berth --help, with its aliases', async () => {
    assert.match(await berthOk(['--help']), /^ {2}volume {6}Manage volumes$/m);
    // `berth volume` alone lists its commands, as `docker volume` does.
    const group = await berthOk(['volume']);
    assert.match(group, /^Usage: {2}berth volume COMMAND$/m);
    assert.deepEqual([...group.matchAll(/^ {2}(\w+) +\S/gm)].map((m) => m[1]), ['create', 'inspect', 'ls', 'prune', 'rm']);
    assert.equal(await berthOk(['volume', 'list', '-q', '--filter', 'name=bt-plain']), 'bt-plain\n');
    await berthOk(['volume', 'create', 'bt-alias']);
    assert.equal(await berthOk(['volume', 'remove', 'bt-alias']), 'bt-alias\n');
  });
});
