import { after, before, describe, it } from 'node:test';
import { DEFAULT_RUNTIME_NAME } from '../helpers/runtime';
import assert from 'node:assert/strict';
import { existsSync, readlinkSync, statSync } from 'node:fs';
import { apiRequest, bootstrapBusybox, needsRoot, startTestDaemon, type TestDaemon } from '../helpers/test-daemon';
import { docker, DOCKER_CLIENTS } from '../helpers/cli';
import { type PrivateDockerd, privateDockerdSkipReason, startPrivateDockerd } from '../helpers/private-dockerd';

const skip = needsRoot('needs root (runc, overlay mounts)') || (DOCKER_CLIENTS.length === 0 ? 'no docker CLI installed' : false);

/** A character device this host has for `--device` (kvm is often absent in VMs). */
const HOST_DEVICE = ['/dev/kvm', '/dev/fuse', '/dev/net/tun'].find((p) => existsSync(p) && statSync(p).isCharacterDevice());
const majorMinor = (rdev: number) => `${Math.floor(rdev / 256) & 0xfff}:${(rdev & 0xff) | ((rdev >> 12) & ~0xff)}`;

/**
 * Run options that reach the OCI spec, read back from inside real containers started by the
 * docker CLI: rlimits, sysctls, the OOM score, devices and their cgroup rules, the init,
 * the host IPC namespace, supplementary groups and the environment.
 */
describe('run options reach the container (docker CLI → berthd)', { skip }, () => {
  let daemon: TestDaemon;
  const client = DOCKER_CLIENTS[0]!;
  const run = (args: string[]) => docker(client, daemon.host, ['run', '--rm', ...args]);

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
  });
  after(async () => {
    await daemon?.stop();
  });

  it('--ulimit sets the rlimits, -1 meaning unlimited', async () => {
    const r = await run(['--ulimit', 'nofile=1024:2048', '--ulimit', 'core=-1', 'busybox', 'sh', '-c', 'grep -E "^Max (open files|core file size)" /proc/self/limits; ulimit -n']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '', 'no "not supported" warning any more');
    assert.match(r.stdout, /^Max core file size\s+unlimited\s+unlimited\s+bytes/m);
    assert.match(r.stdout, /^Max open files\s+1024\s+2048\s+files/m);
    assert.match(r.stdout, /^1024$/m);
  });

  it('--sysctl sets a namespaced sysctl; one outside any namespace is refused at create with runc’s words', async () => {
    const r = await run(['--sysctl', 'kernel.shm_rmid_forced=1', '--sysctl', 'net.ipv4.ip_unprivileged_port_start=80', 'busybox', 'cat', '/proc/sys/kernel/shm_rmid_forced', '/proc/sys/net/ipv4/ip_unprivileged_port_start']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '1\n80\n');
    const before = (await apiRequest(daemon.socket, 'GET', '/containers/json?all=1')).body;
    const cases: [Record<string, unknown>, string][] = [
      [{ Sysctls: { 'kernel.foo': '1' } }, 'sysctl "kernel.foo" is not in a separate kernel namespace'],
      [{ Sysctls: { 'vm.swappiness': '1' } }, 'sysctl "vm.swappiness" is not in a separate kernel namespace'],
      [{ IpcMode: 'host', Sysctls: { 'kernel.shm_rmid_forced': '1' } }, 'sysctl "kernel.shm_rmid_forced" is not allowed in the hosts ipc namespace'],
      [{ NetworkMode: 'host', Sysctls: { 'net.ipv4.ip_forward': '1' } }, 'sysctl "net.ipv4.ip_forward" not allowed in host network namespace'],
      [{ Ulimits: [{ Name: 'nofiles', Soft: 1, Hard: 1 }] }, 'invalid ulimit type: nofiles'],
      [{ Ulimits: [{ Name: 'nofile', Soft: 2, Hard: 1 }] }, 'ulimit soft limit must be less than or equal to hard limit: 2 > 1'],
      [{ Devices: [{ PathOnHost: '/dev/null', PathInContainer: '/dev/n', CgroupPermissions: 'rwx' }] }, 'bad mode specified: rwx'],
    ];
    for (const [hostConfig, message] of cases) {
      const res = await apiRequest(daemon.socket, 'POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: hostConfig });
      assert.equal(res.status, 400, `${JSON.stringify(hostConfig)}: ${res.body}`);
      assert.equal((JSON.parse(res.body) as { message: string }).message, message);
    }
    assert.equal((await apiRequest(daemon.socket, 'GET', '/containers/json?all=1')).body, before, 'a refused create leaves no container');
  });

  it('--oom-score-adj reaches /proc/self/oom_score_adj', async () => {
    const r = await run(['--oom-score-adj', '500', 'busybox', 'cat', '/proc/self/oom_score_adj']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '500\n');
  });

  it('--device adds the node and its cgroup rule with the permissions given, --device-cgroup-rule allows a node; a missing device is a clear error', { skip: HOST_DEVICE ? false : 'no /dev/kvm, /dev/fuse or /dev/net/tun on this host' }, async () => {
    const device = HOST_DEVICE!;
    const rdev = majorMinor(statSync(device).rdev);
    const r = await run(['--device', `${device}:/dev/added:r`, 'busybox', 'sh', '-c', 'ls -l /dev/added; grep " ' + rdev + ' " /sys/fs/cgroup/devices/devices.list; echo x > /dev/added || echo write refused']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^c.* ${rdev.replace(':', ', ')} .* /dev/added$`, 'm'));
    assert.match(r.stdout, new RegExp(`^c ${rdev} r$`, 'm'), 'the cgroup allows reading only');
    assert.match(r.stdout, /write refused/);
    const full = await run(['--device', device, 'busybox', 'ls', device]);
    assert.equal(full.code, 0, full.stderr);
    assert.equal(full.stdout, `${device}\n`);
    // --device-cgroup-rule: a node made inside opens only with the rule.
    const [maj, min] = rdev.split(':');
    const open = `mknod /tmp/node c ${maj} ${min}; if (exec 3< /tmp/node) 2>/dev/null; then echo opened; else echo refused; fi`;
    const ruled = await run(['--device-cgroup-rule', `c ${rdev} r`, 'busybox', 'sh', '-c', open]);
    assert.equal(ruled.stdout, 'opened\n', ruled.stderr);
    const unruled = await run(['busybox', 'sh', '-c', open]);
    assert.equal(unruled.stdout, 'refused\n', unruled.stderr);
    const missing = await run(['--device', '/dev/berth-no-such-device', 'busybox', 'true']);
    assert.equal(missing.code, 127, 'docker maps "no such file or directory" at start to 127');
    assert.match(missing.stderr, /error gathering device information while adding custom device "\/dev\/berth-no-such-device": no such file or directory/);
  });

  it('--init runs the static tini as PID 1 in front of the command, mounted read-only', async () => {
    const r = await run(['--init', 'busybox', 'sh', '-c', 'tr "\\0" " " < /proc/1/cmdline; echo; grep " /sbin/docker-init " /proc/self/mountinfo; echo x > /sbin/docker-init || echo read-only']);
    assert.equal(r.code, 0, r.stderr);
    const [cmdline, mount] = r.stdout.split('\n');
    assert.match(cmdline!, /^\/sbin\/docker-init -- sh -c tr /, 'PID 1 is the init, then "--" and the command');
    assert.match(mount!, / \/sbin\/docker-init ro[, ]/);
    assert.match(r.stdout, /read-only\n$/);
    // The init forwards signals: a stop ends the container at once, not after the 10 s timeout.
    const started = await docker(client, daemon.host, ['run', '-d', '--init', '--name', 'inited', 'busybox', 'sleep', '60']);
    assert.equal(started.code, 0, started.stderr);
    const ps = await docker(client, daemon.host, ['exec', 'inited', 'ps', '-o', 'pid,args']);
    assert.match(ps.stdout, /^\s*1 \/sbin\/docker-init -- sleep 60$/m);
    const t0 = Date.now();
    await docker(client, daemon.host, ['stop', 'inited']);
    assert.ok(Date.now() - t0 < 8000, 'tini passed SIGTERM on to sleep');
    await docker(client, daemon.host, ['rm', 'inited']);
  });

  it('--ipc host starts without a host /dev/mqueue: a fresh mqueue mount, the host’s /dev/shm', async () => {
    const r = await run(['--ipc', 'host', 'busybox', 'sh', '-c', 'grep -E " /dev/(mqueue|shm) " /proc/self/mountinfo; readlink /proc/self/ns/ipc']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, / \/dev\/mqueue .* - mqueue mqueue /);
    assert.match(r.stdout, / \/dev\/shm /);
    const hostIpc = readlinkSync('/proc/self/ns/ipc');
    assert.match(r.stdout, new RegExp(`^${hostIpc.replace(/[[\]]/g, '\\$&')}$`, 'm'), 'the host IPC namespace');
  });

  it('env: -e NAME with NAME unset is dropped, -e K= keeps an empty value (docker CLI and the API)', async () => {
    const viaCli = await docker(client, daemon.host, ['run', '--rm', '-e', 'BERTH_TEST_UNSET_VAR', '-e', 'K=', '-e', 'A=1', 'busybox', 'env']);
    assert.equal(viaCli.code, 0, viaCli.stderr);
    assert.doesNotMatch(viaCli.stdout, /BERTH_TEST_UNSET_VAR/);
    assert.match(viaCli.stdout, /^K=$/m);
    assert.match(viaCli.stdout, /^A=1$/m);
    // The API: an entry without "=" unsets that key, even a default one (HOSTNAME), and is never passed to runc.
    const created = await apiRequest(daemon.socket, 'POST', '/containers/create?name=envapi', { Image: 'busybox', Cmd: ['env'], Tty: true, Env: ['NO_DEF', 'K=', 'HOSTNAME', 'A=1'] });
    assert.equal(created.status, 201, created.body);
    const inspected = JSON.parse((await apiRequest(daemon.socket, 'GET', '/containers/envapi/json')).body) as { Config: { Env: string[] } };
    assert.deepEqual(inspected.Config.Env, ['NO_DEF', 'K=', 'HOSTNAME', 'A=1', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], 'Config.Env as dockerd stores it');
    const started = await apiRequest(daemon.socket, 'POST', '/containers/envapi/start');
    assert.equal(started.status, 204, started.body);
    await apiRequest(daemon.socket, 'POST', '/containers/envapi/wait');
    const logs = await docker(client, daemon.host, ['logs', 'envapi']);
    assert.deepEqual(logs.stdout.split(/\r?\n/).filter(Boolean).sort(), ['A=1', 'HOME=/root', 'K=', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm']);
    // exec takes the same rule.
    await docker(client, daemon.host, ['run', '-d', '--name', 'envexec', 'busybox', 'sleep', '60']);
    const exec = await docker(client, daemon.host, ['exec', '-e', 'BERTH_TEST_UNSET_VAR', '-e', 'E=', 'envexec', 'env']);
    assert.equal(exec.code, 0, exec.stderr);
    assert.doesNotMatch(exec.stdout, /BERTH_TEST_UNSET_VAR/);
    assert.match(exec.stdout, /^E=$/m);
    await docker(client, daemon.host, ['rm', '-f', 'envapi', 'envexec']);
  });

  it('supplementary groups: the primary group, --group-add by id and name, exec too', async () => {
    const id = async (args: string[]) => {
      const r = await run([...args, 'busybox', 'sh', '-c', 'id; grep ^Groups: /proc/self/status']);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    assert.equal(await id(['-u', '1000:1000']), 'uid=1000 gid=1000 groups=1000\nGroups:\t1000 \n');
    assert.equal(await id(['--group-add', '50']), 'uid=0(root) gid=0(root) groups=0(root),50\nGroups:\t0 50 \n');
    assert.equal(await id(['-u', 'nobody', '--group-add', 'root']), 'uid=65534(nobody) gid=65534(nobody) groups=0(root),65534(nobody)\nGroups:\t0 65534 \n');
    const missing = await run(['--group-add', 'nosuchgroup', 'busybox', 'true']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /Unable to find group nosuchgroup: no matching entries in group file/);
    await docker(client, daemon.host, ['run', '-d', '--name', 'grp', '-u', '1000:1000', '--group-add', '50', 'busybox', 'sleep', '60']);
    const exec = await docker(client, daemon.host, ['exec', 'grp', 'grep', '^Groups:', '/proc/self/status']);
    assert.equal(exec.stdout, 'Groups:\t50 1000 \n');
    await docker(client, daemon.host, ['rm', '-f', 'grp']);
  });
});

/** The same commands against a private dockerd 20.10 and berthd give the same answers. */
describe('run options side by side with dockerd', { skip: skip || (privateDockerdSkipReason() ?? false) }, () => {
  let daemon: TestDaemon;
  let dockerd: PrivateDockerd;
  const client = DOCKER_CLIENTS[0]!;
  const both = (args: string[]) => Promise.all([docker(client, daemon.host, args), docker(client, dockerd.host, args)]);

  before(async () => {
    [daemon, dockerd] = await Promise.all([startTestDaemon(), startPrivateDockerd()]);
    await bootstrapBusybox(daemon);
    // An image whose /etc/group gives a named user supplementary groups, in both daemons.
    const made = await docker(client, daemon.host, ['run', '--name', 'mkusers', 'busybox', 'sh', '-c',
      'echo "alice:x:1000:1000::/home/alice:/bin/sh" >> /etc/passwd; printf "alice:x:1000:\\nwheel:x:10:alice,bob\\naudio:x:29:alice\\nstaff:x:50:\\n" >> /etc/group']);
    assert.equal(made.code, 0, made.stderr);
    assert.equal((await docker(client, daemon.host, ['commit', 'mkusers', 'users:1'])).code, 0);
    const saved = await docker(client, daemon.host, ['save', 'busybox', 'users:1']);
    const loaded = await docker(client, dockerd.host, ['load'], { input: saved.stdoutBytes });
    assert.equal(loaded.code, 0, loaded.stderr);
  });
  after(async () => {
    await Promise.all([daemon?.stop(), dockerd?.stop()]);
  });

  it('container inspect: HostConfig has dockerd’s keys in dockerd’s order, with its zero values', async () => {
    const creates: string[][] = [
      ['busybox', 'true'],
      ['--privileged', '--init', '--tmpfs', '/t', '--mount', 'type=tmpfs,target=/m', '--ulimit', 'nofile=1:2', '--sysctl', 'net.ipv4.ip_forward=1', 'busybox', 'true'],
      ['--ipc', 'host', '--group-add', '50', '--oom-score-adj', '7', '--device', '/dev/null:/dev/n:r', '--security-opt', 'no-new-privileges', 'busybox', 'true'],
    ];
    const sockets = [daemon.socket, dockerd.host.replace(/^unix:\/\//, '')];
    // A raw API client that sends an empty HostConfig (docker-py, dockerode and compose send few fields).
    const raw = await Promise.all(sockets.map((socket) => apiRequest(socket, 'POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: {} })));
    const ids: [string, string][] = [[JSON.parse(raw[0].body).Id as string, JSON.parse(raw[1].body).Id as string]];
    for (const args of creates) {
      const [ours, theirs] = await both(['create', ...args]);
      assert.equal(ours.code, 0, ours.stderr);
      assert.equal(theirs.code, 0, theirs.stderr);
      ids.push([ours.stdout.trim(), theirs.stdout.trim()]);
    }
    for (const [i, [ourId, theirId]] of ids.entries()) {
      const [ours, theirs] = await Promise.all([apiRequest(sockets[0]!, 'GET', `/containers/${ourId}/json`), apiRequest(sockets[1]!, 'GET', `/containers/${theirId}/json`)]);
      const ourHost = (JSON.parse(ours.body) as { HostConfig: Record<string, unknown> }).HostConfig;
      const theirHost = (JSON.parse(theirs.body) as { HostConfig: Record<string, unknown> }).HostConfig;
      const what = i === 0 ? 'API create with HostConfig {}' : `docker create ${creates[i - 1]!.join(' ')}`;
      assert.deepEqual(Object.keys(ourHost), Object.keys(theirHost), what);
      for (const key of Object.keys(theirHost)) {
        // A known difference: berth also masks /sys/devices/virtual/powercap (moby ≥ 23 does).
        if (key === 'MaskedPaths') continue;
        // The runtime that runs it: crun where it is installed (dockerd's default is runc).
        if (key === 'Runtime') {
          assert.equal(ourHost[key], DEFAULT_RUNTIME_NAME, `${what}: HostConfig.Runtime`);
          continue;
        }
        assert.deepEqual(ourHost[key], theirHost[key], `${what}: HostConfig.${key}`);
      }
    }
  });

  it('supplementary groups: the same `id` as dockerd, a named user taking its groups from the image’s /etc/group', async () => {
    const cases: string[][] = [
      ['-u', '1000:1000', 'busybox'],
      ['-u', '1000', 'busybox'],
      ['--group-add', '50', 'busybox'],
      ['-u', '1000:1000', '--group-add', '50', 'busybox'],
      ['-u', 'nobody', '--group-add', 'root', '--group-add', '4242', 'busybox'],
      ['-u', 'alice', 'users:1'],
      ['-u', '1000', 'users:1'],
      ['-u', 'alice:staff', 'users:1'],
      ['-u', 'alice', '--group-add', 'staff', 'users:1'],
    ];
    for (const args of cases) {
      const [ours, theirs] = await both(['run', '--rm', '--network', 'none', ...args, 'sh', '-c', 'id; grep ^Groups: /proc/self/status']);
      assert.equal(theirs.code, 0, theirs.stderr);
      assert.equal(ours.stdout, theirs.stdout, args.join(' '));
      assert.equal(ours.code, 0, ours.stderr);
    }
    const [ours, theirs] = await both(['run', '--rm', '--network', 'none', '--group-add', 'nosuchgroup', 'busybox', 'true']);
    assert.equal(ours.code, theirs.code);
    assert.match(theirs.stderr, /Unable to find group nosuchgroup: no matching entries in group file/);
    assert.match(ours.stderr, /Unable to find group nosuchgroup: no matching entries in group file/);
  });

  it('env: the same process environment as dockerd for unset, empty, repeated and default keys', async () => {
    const args = ['run', '--rm', '--network', 'none', '-h', 'h', '-e', 'BERTH_TEST_UNSET_VAR', '-e', 'K=', '-e', 'HOSTNAME', '-e', 'A=1', '-e', 'A=2', '-e', 'TERM=x', 'busybox', 'env'];
    const [ours, theirs] = await both(args);
    assert.equal(theirs.code, 0, theirs.stderr);
    // Sorted: dockerd's config.json has berth's order, but its runc init moves TERM up front.
    const lines = (text: string) => text.split('\n').filter(Boolean).sort();
    assert.deepEqual(lines(ours.stdout), lines(theirs.stdout));
  });

  it('ulimit, sysctl, oom score and init read the same inside as under dockerd', async () => {
    const [ours, theirs] = await both(['run', '--rm', '--network', 'none', '--init', '--ulimit', 'nofile=1024:2048', '--ulimit', 'core=-1', '--oom-score-adj', '500', '--sysctl', 'kernel.shm_rmid_forced=1', 'busybox', 'sh', '-c',
      'grep -E "^Max (open files|core file size)" /proc/self/limits; cat /proc/self/oom_score_adj /proc/sys/kernel/shm_rmid_forced; tr "\\0" " " < /proc/1/cmdline']);
    assert.equal(theirs.code, 0, theirs.stderr);
    assert.equal(ours.stdout, theirs.stdout);
  });
});
