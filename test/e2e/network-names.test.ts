import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { apiRequest, bootstrapBusybox, needsRoot, startTestDaemon, type TestDaemon } from '../helpers/test-daemon';
import { docker, DOCKER_CLIENTS, runCommand } from '../helpers/cli';
import type { DnsQueryResult } from '../helpers/dns-query';

const DOCKER_28 = DOCKER_CLIENTS.find((c) => c === '/usr/local/bin/docker');
const skip = needsRoot('needs root (runc, overlay mounts, network namespaces)') || (DOCKER_28 ? false : 'docker CLI 28 not installed');

/**
 * The names a container sees (managed /etc/hosts and /etc/resolv.conf) on a real berthd in a
 * network namespace of its own: --add-host with host-gateway reaching a server on the
 * daemon's "host" (its namespace), --dns/--dns-search/--dns-option, and bad --add-host values.
 */
describe('container names: --add-host, host-gateway, --dns options', { skip }, () => {
  let daemon: TestDaemon;
  let server: ChildProcess | undefined;
  let serverPort = 0;
  const d = (...args: string[]) => docker(DOCKER_28!, daemon.host, args, { timeoutMs: 60_000 });
  const ok = async (...args: string[]) => {
    const r = await d(...args);
    assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };

  before(async () => {
    daemon = await startTestDaemon();
    await bootstrapBusybox(daemon);
    // A server on the daemon's host side (all addresses of its namespace), as a database on the host would be.
    const script = "const s=require('http').createServer((q,r)=>r.end('hello from the host\\n'));s.listen(0,'0.0.0.0',()=>console.log(s.address().port))";
    const command = daemon.netns!.command(process.execPath, ['-e', script]);
    server = spawn(command.file, command.args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = (await once(server.stdout!, 'data')) as [Buffer];
    serverPort = Number(line.toString().trim());
    assert.ok(serverPort > 0);
  });
  after(async () => {
    if (server && server.exitCode === null) {
      server.kill('SIGKILL');
      await once(server, 'exit');
    }
    await daemon?.stop();
  });

  it('reaches a server on the host through host-gateway, on the default bridge and on a user network', async () => {
    const gateway = JSON.parse(await ok('network', 'inspect', 'bridge'))[0].IPAM.Config[0].Gateway as string;
    const probe = `grep host.docker.internal /etc/hosts; wget -qO- http://host.docker.internal:${serverPort}/`;
    const onBridge = await ok('run', '--rm', '--add-host', 'host.docker.internal:host-gateway', '--add-host', 'db:10.1.2.3', 'busybox', 'sh', '-c', `grep db /etc/hosts; ${probe}`);
    assert.match(onBridge, /^10\.1\.2\.3\tdb$/m);
    assert.match(onBridge, new RegExp(`^${gateway.replaceAll('.', '\\.')}\\thost\\.docker\\.internal$`, 'm'));
    assert.match(onBridge, /hello from the host/);
    await ok('network', 'create', 'names-net');
    try {
      const onUserNetwork = await ok('run', '--rm', '--network', 'names-net', '--add-host', 'host.docker.internal:host-gateway', 'busybox', 'sh', '-c', probe);
      assert.match(onUserNetwork, /hello from the host/);
    } finally {
      await ok('network', 'rm', 'names-net');
    }
    // inspect keeps what was asked for, as dockerd does.
    const id = await ok('create', '--add-host', 'host.docker.internal:host-gateway', 'busybox', 'true');
    assert.deepEqual(JSON.parse(await ok('inspect', id))[0].HostConfig.ExtraHosts, ['host.docker.internal:host-gateway']);
    await ok('rm', id);
  });

  it('writes --dns, --dns-search and --dns-option into resolv.conf on the default bridge', async () => {
    const out = await ok('run', '--rm', '--dns', '10.9.9.9', '--dns-search', 'corp.example', '--dns-option', 'ndots:3', 'busybox', 'cat', '/etc/resolv.conf');
    const lines = out.split('\n').filter((l) => !l.startsWith('#'));
    assert.deepEqual(lines, ['nameserver 10.9.9.9', 'search corp.example', 'options ndots:3']);
  });

  it('forwards names it does not know to the container\'s --dns servers, keeping its own names and resolv.conf entry', async () => {
    // A tiny upstream resolver on the daemon's loopback (port 53 of its own namespace): any A
    // query for upstream.test gets 10.66.0.7, everything else NXDOMAIN.
    const upstreamScript = `const p=require(${JSON.stringify(require.resolve('dns-packet'))});const s=require('dgram').createSocket('udp4');
s.on('message',(m,r)=>{const q=p.decode(m);const n=q.questions[0].name;const hit=n==='upstream.test'&&q.questions[0].type==='A';
s.send(p.encode({id:q.id,type:'response',flags:p.RECURSION_AVAILABLE,rcode:hit?'NOERROR':'NXDOMAIN',questions:q.questions,answers:hit?[{type:'A',name:n,ttl:60,data:'10.66.0.7'}]:[]}),r.port,r.address)});
s.bind(53,'127.0.0.1',()=>console.log('ready'))`;
    const command = daemon.netns!.command(process.execPath, ['-e', upstreamScript]);
    const upstream = spawn(command.file, command.args, { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await once(upstream.stdout!, 'data');
      await ok('network', 'create', 'fwd-net');
      await ok('network', 'create', 'other-net');
      try {
        const gateway = JSON.parse(await ok('network', 'inspect', 'fwd-net'))[0].IPAM.Config[0].Gateway as string;
        await ok('run', '-d', '--name', 'fwd-peer', '--network', 'fwd-net', 'busybox', 'sleep', '600');
        const withDns = ['--network', 'fwd-net', '--dns', '127.0.0.1', '--dns-search', 'corp.example', '--dns-option', 'timeout:2', 'busybox'];
        const resolv = (await ok('run', '--rm', ...withDns, 'cat', '/etc/resolv.conf')).split('\n').filter((l) => !l.startsWith('#'));
        assert.deepEqual(resolv, [`nameserver ${gateway}`, 'search corp.example', 'options timeout:2 ndots:0']);
        const forwarded = await ok('run', '--rm', ...withDns, 'nslookup', 'upstream.test');
        assert.match(forwarded, /Address: 10\.66\.0\.7/);
        // Its network's names still come from the embedded server (busybox's nslookup would try the search domain too).
        assert.match(await ok('run', '--rm', '--network', 'fwd-net', '--dns', '127.0.0.1', 'busybox', 'nslookup', 'fwd-peer'), /Name:\s+fwd-peer/);
        // Without --dns, the same name goes to the host's resolvers, which know nothing of it.
        const plain = await d('run', '--rm', '--network', 'fwd-net', 'busybox', 'nslookup', 'upstream.test');
        assert.doesNotMatch(plain.stdout, /10\.66\.0\.7/);
        // Another network's container neither resolves the peer through its own server nor through fwd-net's.
        const across = await d('run', '--rm', '--network', 'other-net', 'busybox', 'sh', '-c', `nslookup fwd-peer; nslookup fwd-peer ${gateway}`);
        assert.doesNotMatch(across.stdout, /Name:\s+fwd-peer/);
        // A container on both networks resolves the peer through its first network's server.
        const both = await ok('create', '--network', 'other-net', 'busybox', 'nslookup', 'fwd-peer');
        await ok('network', 'connect', 'fwd-net', both);
        await d('start', '-a', both).then((r) => assert.match(r.stdout, /Name:\s+fwd-peer/, r.stdout + r.stderr));
        await ok('rm', both);
      } finally {
        await d('rm', '-f', 'fwd-peer');
        await ok('network', 'rm', 'fwd-net', 'other-net');
      }
    } finally {
      upstream.kill('SIGKILL');
      await once(upstream, 'exit').catch(() => undefined);
    }
  });

  it('answers over TCP too, flags a UDP answer too big for 512 bytes TC, answers PTR with <name>.<network>, AAAA with no records, and forwards TCP over TCP', async () => {
    // A TCP-only upstream on the daemon's loopback: any query for big.upstream.test gets 40 A records.
    const upstreamScript = `const p=require(${JSON.stringify(require.resolve('dns-packet'))});require('net').createServer((c)=>{let b=Buffer.alloc(0);c.on('data',(d)=>{b=Buffer.concat([b,d]);if(b.length<2||b.length<2+b.readUInt16BE(0))return;const q=p.decode(b.subarray(2));
const answers=Array.from({length:40},(_,i)=>({type:'A',name:q.questions[0].name,ttl:60,data:'10.66.1.'+(i+1)}));const r=p.encode({id:q.id,type:'response',flags:p.RECURSION_AVAILABLE,questions:q.questions,answers});c.end(Buffer.concat([Buffer.from([r.length>>8,r.length&255]),r]))})}).listen(53,'127.0.0.1',()=>console.log('ready'))`;
    const command = daemon.netns!.command(process.execPath, ['-e', upstreamScript]);
    const upstream = spawn(command.file, command.args, { stdio: ['ignore', 'pipe', 'inherit'] });
    await ok('network', 'create', '--subnet', '10.75.0.0/24', 'dns-net');
    try {
      await once(upstream.stdout!, 'data');
      // Three containers under one alias long enough that their three records pass 512 bytes.
      const long = Array.from({ length: 4 }, (_, i) => `${String.fromCharCode(97 + i)}`.repeat(60)).join('.');
      for (const name of ['n1', 'n2', 'n3']) await ok('run', '-d', '--name', name, '--network', 'dns-net', '--network-alias', long, '--network-alias', 'svc', 'busybox', 'sleep', '600');
      await ok('run', '-d', '--name', 'asker', '--network', 'dns-net', '--dns', '127.0.0.1', 'busybox', 'sleep', '600');
      const n1 = JSON.parse(await ok('inspect', 'n1'))[0].NetworkSettings.Networks['dns-net'].IPAddress as string;
      const sandbox = JSON.parse(await ok('inspect', 'asker'))[0].NetworkSettings.SandboxKey as string;
      const query = async (name: string, type: string, proto: 'udp' | 'tcp', edns?: number): Promise<DnsQueryResult> => {
        const r = await runCommand('nsenter', [`--net=${sandbox}`, '--', process.execPath, require.resolve('../helpers/dns-query'), '10.75.0.1', name, type, proto, ...(edns ? [String(edns)] : [])], { timeoutMs: 20_000 });
        assert.equal(r.code, 0, `${name} ${type} ${proto}: ${r.stderr}`);
        return JSON.parse(r.stdout) as DnsQueryResult;
      };
      const overUdp = await query(long, 'A', 'udp');
      assert.equal(overUdp.truncated, true);
      assert.ok(overUdp.bytes <= 512, String(overUdp.bytes));
      assert.ok(overUdp.answers.length < 3, `${overUdp.answers.length} answers`);
      const overTcp = await query(long, 'A', 'tcp');
      assert.deepEqual([overTcp.rcode, overTcp.truncated, overTcp.answers.length], ['NOERROR', false, 3]);
      assert.ok(overTcp.bytes > 512);
      const withEdns = await query(long, 'A', 'udp', 4096);
      assert.deepEqual([withEdns.truncated, withEdns.answers.length], [false, 3]);
      assert.equal((await query('svc', 'A', 'tcp')).answers.length, 3);
      const aaaa = await query('svc', 'AAAA', 'udp');
      assert.deepEqual([aaaa.rcode, aaaa.truncated, aaaa.answers], ['NOERROR', false, []]);
      assert.deepEqual((await query('n1.dns-net', 'A', 'udp')).answers.map((a) => a.data), [n1]);
      // Reverse lookups: a container's address names it on its network; another address of the subnet is NXDOMAIN here.
      const reversed = n1.split('.').reverse().join('.') + '.in-addr.arpa';
      assert.deepEqual((await query(reversed, 'PTR', 'tcp')).answers, [{ name: reversed, type: 'PTR', data: 'n1.dns-net' }]);
      assert.equal((await query('200.0.75.10.in-addr.arpa', 'PTR', 'udp')).rcode, 'NXDOMAIN');
      assert.match(await ok('exec', 'asker', 'nslookup', n1), /name = n1\.dns-net/);
      // A name it does not know goes to the container's --dns server over the protocol it came on.
      const forwarded = await query('big.upstream.test', 'A', 'tcp');
      assert.equal(forwarded.answers.length, 40);
      // Over UDP the same name fails: this upstream has no UDP (SERVFAIL, never a silent empty NOERROR).
      assert.equal((await query('big.upstream.test', 'A', 'udp')).rcode, 'SERVFAIL');
    } finally {
      upstream.kill('SIGKILL');
      await once(upstream, 'exit').catch(() => undefined);
      await d('rm', '-f', 'n1', 'n2', 'n3', 'asker');
      await ok('network', 'rm', 'dns-net');
    }
  });

  it('--link name:alias: on the default bridge an /etc/hosts entry and the <ALIAS>_* variables, on a user network a name its DNS answers; inspect shows /target:/name/alias', async () => {
    await ok('run', '-d', '--name', 'linked-web', '--hostname', 'webhost', '-e', 'MODE=prod', '--expose', '8080', '--expose', '53/udp', 'busybox', 'sleep', '600');
    await ok('network', 'create', 'link-net');
    try {
      const ip = JSON.parse(await ok('inspect', 'linked-web'))[0].NetworkSettings.IPAddress as string;
      const out = await ok('run', '--name', 'linker', '--link', 'linked-web:db', 'busybox', 'sh', '-c', 'grep -w db /etc/hosts; env | grep ^DB_ | sort; ping -c1 -W2 db >/dev/null && echo reached');
      const lines = out.split('\n');
      assert.equal(lines[0], `${ip}\tdb webhost linked-web`);
      assert.deepEqual(lines.slice(1, -1), [
        'DB_ENV_MODE=prod',
        'DB_NAME=/linker/db',
        `DB_PORT=udp://${ip}:53`,
        `DB_PORT_53_UDP=udp://${ip}:53`,
        `DB_PORT_53_UDP_ADDR=${ip}`,
        'DB_PORT_53_UDP_PORT=53',
        'DB_PORT_53_UDP_PROTO=udp',
        `DB_PORT_8080_TCP=tcp://${ip}:8080`,
        `DB_PORT_8080_TCP_ADDR=${ip}`,
        'DB_PORT_8080_TCP_PORT=8080',
        'DB_PORT_8080_TCP_PROTO=tcp',
      ]);
      assert.equal(lines.at(-1), 'reached');
      assert.deepEqual(JSON.parse(await ok('inspect', 'linker'))[0].HostConfig.Links, ['/linked-web:/linker/db']);
      // The target must exist at create and run at start.
      const missing = await apiRequest(daemon.socket, 'POST', '/containers/create', { Image: 'busybox', HostConfig: { Links: ['nosuch:x'] } });
      assert.equal(missing.status, 400, missing.body);
      assert.match(JSON.parse(missing.body).message, /could not get container for nosuch/);
      const withHost = await apiRequest(daemon.socket, 'POST', '/containers/create', { Image: 'busybox', HostConfig: { NetworkMode: 'host', Links: ['linked-web:x'] } });
      assert.equal(withHost.status, 400, withHost.body);
      await ok('stop', '-t', '0', 'linked-web');
      const stopped = await d('start', 'linker');
      assert.notEqual(stopped.code, 0);
      assert.match(stopped.stderr, /Cannot link to a non running container: \/linked-web AS \/linker\/db/);
      await ok('start', 'linked-web');
      // On a user network the link is a name the embedded DNS answers.
      await ok('run', '-d', '--name', 'net-peer', '--network', 'link-net', 'busybox', 'sleep', '600');
      const peer = JSON.parse(await ok('inspect', 'net-peer'))[0].NetworkSettings.Networks['link-net'].IPAddress as string;
      assert.match(await ok('run', '--rm', '--network', 'link-net', '--link', 'net-peer:pal', 'busybox', 'nslookup', 'pal'), new RegExp(`Address: ${peer.replaceAll('.', '\\.')}`));
    } finally {
      await d('rm', '-f', 'linker', 'linked-web', 'net-peer');
      await ok('network', 'rm', 'link-net');
    }
  });

  it('answers a bad --add-host with a 400 naming it, and creates nothing', async () => {
    const before = JSON.parse((await apiRequest(daemon.socket, 'GET', '/containers/json?all=1')).body).length as number;
    for (const [entry, message] of [
      ['db:10.0.0', 'invalid IP address in add-host: "10.0.0"'],
      ['nocolon', 'bad format for add-host: "nocolon"'],
    ] as const) {
      const r = await apiRequest(daemon.socket, 'POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { ExtraHosts: [entry] } });
      assert.equal(r.status, 400, r.body);
      assert.equal(JSON.parse(r.body).message, message);
    }
    const afterCount = JSON.parse((await apiRequest(daemon.socket, 'GET', '/containers/json?all=1')).body).length as number;
    assert.equal(afterCount, before);
  });
});
