import type { Descriptor } from '../../../images/models';
import { MediaTypes } from '../../../images/media-types';

/**
 * The manifest a push builds when it cannot send the image's own (some layers were stored
 * uncompressed): Docker's v2 schema 2, as dockerd's schema2 builder writes it (Go's
 * MarshalIndent with three spaces, descriptor fields in Go's order); an OCI manifest instead
 * when a layer is zstd, which schema 2 has no media type for.
 */
export function buildManifest(config: { digest: string; size: number }, layers: readonly Descriptor[]): { mediaType: string; bytes: Buffer } {
  const oci = layers.some((l) => l.mediaType.includes('zstd'));
  const mediaType = oci ? MediaTypes.ociManifest : MediaTypes.dockerManifest;
  const manifest = {
    schemaVersion: 2,
    mediaType,
    config: { mediaType: oci ? MediaTypes.ociConfig : MediaTypes.dockerConfig, size: config.size, digest: config.digest },
    layers: layers.map((l) => ({
      mediaType: layerType(l.mediaType, oci),
      size: l.size,
      digest: l.digest,
      ...(l.urls ? { urls: l.urls } : {}),
    })),
  };
  return { mediaType, bytes: Buffer.from(JSON.stringify(manifest, null, 3)) };
}

function layerType(mediaType: string, oci: boolean): string {
  const zstd = mediaType.includes('zstd');
  const foreign = mediaType.includes('foreign') || mediaType.includes('nondistributable');
  if (oci) {
    if (zstd) return MediaTypes.ociLayerZstd;
    return foreign ? MediaTypes.ociLayerNonDistributableGzip : MediaTypes.ociLayerGzip;
  }
  return foreign ? MediaTypes.dockerLayerForeignGzip : MediaTypes.dockerLayerGzip;
}
