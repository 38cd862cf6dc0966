export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

export type ManifestMediaType = (typeof MediaType)[Exclude<keyof typeof MediaType, 'ociEmpty'>];

export const MANIFEST_MEDIA_TYPES: readonly string[] = [MediaType.ociManifest, MediaType.ociIndex, MediaType.dockerManifest, MediaType.dockerManifestList];

export function isManifestMediaType(value: string): value is ManifestMediaType {
  return MANIFEST_MEDIA_TYPES.includes(value);
}

export function isIndexMediaType(value: string): boolean {
  return value === MediaType.ociIndex || value === MediaType.dockerManifestList;
}

/** Layers that registries do not hold (foreign / non-distributable); their blobs need not exist. */
const NON_DISTRIBUTABLE = new Set([
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
]);

export function isNonDistributable(mediaType: string): boolean {
  return NON_DISTRIBUTABLE.has(mediaType);
}
