import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseImageConfig, parseIndex, parseManifest, selectPlatformManifest } from './models';
import { MediaTypes } from './media-types';

const D = (c: string) => `sha256:${c.repeat(64)}`;

test('reads a Docker v2 schema 2 manifest', () => {
  const m = parseManifest(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.dockerManifest,
      config: { mediaType: MediaTypes.dockerConfig, size: 10, digest: D('a') },
      layers: [{ mediaType: MediaTypes.dockerLayerGzip, size: 20, digest: D('b') }],
    }),
  );
  assert.equal(m.mediaType, MediaTypes.dockerManifest);
  assert.equal(m.layers[0].digest, D('b'));
});

test('reads an OCI manifest without mediaType field', () => {
  const m = parseManifest(
    JSON.stringify({
      schemaVersion: 2,
      config: { mediaType: MediaTypes.ociConfig, size: 10, digest: D('a') },
      layers: [],
    }),
  );
  assert.equal(m.mediaType, MediaTypes.ociManifest);
});

test('rejects bad manifests', () => {
  assert.throws(() => parseManifest('{'), /invalid manifest/);
  assert.throws(() => parseManifest(JSON.stringify({ schemaVersion: 1 })), /schemaVersion/);
  assert.throws(
    () => parseManifest(JSON.stringify({ schemaVersion: 2, config: { mediaType: MediaTypes.ociConfig, size: 1, digest: 'sha256:zz' }, layers: [] })),
    /bad digest/,
  );
  assert.throws(
    () =>
      parseManifest(
        JSON.stringify({
          schemaVersion: 2,
          config: { mediaType: MediaTypes.ociConfig, size: 1, digest: D('a') },
          layers: [{ mediaType: 'text/plain', size: 1, digest: D('b') }],
        }),
      ),
    /unsupported layer media type/,
  );
});

test('reads an index and picks linux/amd64', () => {
  const idx = parseIndex(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaTypes.dockerManifestList,
      manifests: [
        { mediaType: MediaTypes.dockerManifest, size: 1, digest: D('a'), platform: { os: 'linux', architecture: 'arm64' } },
        { mediaType: MediaTypes.dockerManifest, size: 1, digest: D('b'), platform: { os: 'linux', architecture: 'amd64' } },
      ],
    }),
  );
  assert.equal(selectPlatformManifest(idx, { os: 'linux', architecture: 'amd64' })?.digest, D('b'));
});

test('reads a config and validates diff ids', () => {
  const c = parseImageConfig(JSON.stringify({ rootfs: { type: 'layers', diff_ids: [D('c')] }, config: { Cmd: ['sh'] } }));
  assert.equal(c.architecture, 'amd64');
  assert.deepEqual(c.config?.Cmd, ['sh']);
  assert.throws(() => parseImageConfig(JSON.stringify({ rootfs: { type: 'layers', diff_ids: ['x'] } })), /bad diff id/);
  assert.throws(() => parseImageConfig(JSON.stringify({})), /diff_ids missing/);
});
