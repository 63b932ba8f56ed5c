import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { startBerthRegistry, type TestRegistry } from '../../helpers/registry';
import { runCommand } from '../../helpers/cli';
import { CLI_MAIN } from '../../helpers/test-daemon';
import { writeOciLayout, type LayoutImage } from '../../helpers/oci-layout';

/**
 * `berth registry serve --tls-cert --tls-key` (and `tls:` in --config): HTTPS with a
 * self-signed certificate made by openssl here; skopeo verifies it through --dest-cert-dir /
 * --src-cert-dir (the certificate as the CA), and a plain-HTTP request gets no registry answer.
 */
const SKOPEO = '/usr/bin/skopeo';
const OPENSSL = '/usr/bin/openssl';
const skip = !existsSync(SKOPEO) ? 'skopeo is not installed (/usr/bin/skopeo)' : !existsSync(OPENSSL) ? 'openssl is not installed' : false;

let dir: string;
let certDir: string;
let cert: { certificate: string; key: string };
let image: LayoutImage;

function skopeo(args: string[]) {
  return runCommand(SKOPEO, ['--insecure-policy', ...args], { env: { REGISTRY_AUTH_FILE: path.join(dir, 'auth.json') }, timeoutMs: 120_000 });
}

/** GET over HTTPS trusting only `ca`; the status, or the TLS error's code. */
function httpsStatus(port: number, urlPath: string, ca: Buffer): Promise<number | string> {
  return new Promise((resolve) => {
    const req = https.get({ host: '127.0.0.1', port, path: urlPath, ca, timeout: 10_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

before(async () => {
  if (skip) return;
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bregtls-'));
  certDir = path.join(dir, 'certs');
  await fs.mkdir(certDir);
  cert = { certificate: path.join(dir, 'registry.crt'), key: path.join(dir, 'registry.key') };
  const made = await runCommand(OPENSSL, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', cert.key, '-out', cert.certificate], { timeoutMs: 60_000 });
  assert.equal(made.code, 0, made.stderr);
  // containers/image reads a folder's *.crt as CA certificates.
  await fs.copyFile(cert.certificate, path.join(certDir, 'ca.crt'));
  image = await writeOciLayout(path.join(dir, 'src'), 'v1', [{ 'etc/hello': 'hello over TLS\n' }]);
});

after(async () => {
  if (skip) return;
  await fs.rm(dir, { recursive: true, force: true });
});

async function roundTrip(registry: TestRegistry, repo: string): Promise<void> {
  const host = `127.0.0.1:${registry.port}`;
  const push = await skopeo(['copy', '--dest-cert-dir', certDir, `oci:${path.join(dir, 'src')}:v1`, `docker://${host}/${repo}:v1`]);
  assert.equal(push.code, 0, push.stderr);
  const out = path.join(dir, `out-${repo.replace(/\//g, '-')}`);
  const pull = await skopeo(['copy', '--src-cert-dir', certDir, `docker://${host}/${repo}:v1`, `oci:${out}:v1`]);
  assert.equal(pull.code, 0, pull.stderr);
  const index = JSON.parse(await fs.readFile(path.join(out, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  assert.equal(index.manifests[0]!.digest, image.manifestDigest);
}

test('--tls-cert/--tls-key: skopeo pushes and pulls over verified HTTPS; plain HTTP gets no registry answer', { skip }, async () => {
  const registry = await startBerthRegistry({ tls: cert });
  try {
    assert.equal(registry.url, `https://127.0.0.1:${registry.port}`);
    assert.equal(await httpsStatus(registry.port, '/v2/', await fs.readFile(cert.certificate)), 200);
    await roundTrip(registry, 'tls/app');
    const plain = await new Promise<number | string>((resolve) => {
      const req = http.get({ host: '127.0.0.1', port: registry.port, path: '/v2/', timeout: 5_000 }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      req.on('timeout', () => req.destroy(new Error('timeout')));
    });
    assert.notEqual(plain, 200, 'a plain-HTTP request is not served by an HTTPS registry');
    // A client that does not trust the certificate is refused by its own TLS check.
    assert.equal(await httpsStatus(registry.port, '/v2/', Buffer.from('')), 'DEPTH_ZERO_SELF_SIGNED_CERT');
  } finally {
    await registry.stop();
  }
});

test('tls in the --config file, paths relative to the file', { skip }, async () => {
  const config = path.join(dir, 'registry.yaml');
  await fs.writeFile(config, 'tls:\n  certificate: registry.crt\n  key: registry.key\n');
  const registry = await startBerthRegistry({ https: true, args: ['--config', config] });
  try {
    assert.equal(await httpsStatus(registry.port, '/v2/', await fs.readFile(cert.certificate)), 200);
  } finally {
    await registry.stop().catch(() => undefined);
  }
});

test('bad TLS settings fail at start with a message naming what is wrong', { skip }, async () => {
  const root = path.join(dir, 'bad-root');
  const cases: Array<[string[], RegExp]> = [
    [['--tls-cert', cert.certificate], /--tls-cert needs --tls-key/],
    [['--tls-key', cert.key], /--tls-key needs --tls-cert/],
    [['--tls-cert', path.join(dir, 'absent.crt'), '--tls-key', cert.key], /cannot read the TLS certificate .*absent\.crt: no such file/],
    [['--tls-cert', cert.key, '--tls-key', cert.key], /cannot serve HTTPS with/],
  ];
  for (const [flags, message] of cases) {
    const r = await runCommand(CLI_MAIN, ['registry', 'serve', '--addr', '127.0.0.1:0', '--root', root, ...flags], { timeoutMs: 60_000 });
    assert.notEqual(r.code, 0, `${flags.join(' ')} should fail`);
    assert.match(r.stderr, message, `${flags.join(' ')}: ${r.stderr}`);
  }
});
