/**
 * Manifest media types the core accepts (distribution-spec "Pushing Manifests"; image-spec
 * media-types.md; Docker Image Manifest V2 Schema 2).
 */
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
/** Docker schema 1 (signed and unsigned): deprecated and rejected, as registry:2 3.x does. */
export const DOCKER_SCHEMA1 = [
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
];

export type ManifestKind = 'manifest' | 'index';

export const MANIFEST_KINDS: Record<string, ManifestKind> = {
  [OCI_MANIFEST]: 'manifest',
  [DOCKER_MANIFEST]: 'manifest',
  [OCI_INDEX]: 'index',
  [DOCKER_MANIFEST_LIST]: 'index',
};

/** Strip parameters (`; charset=...`) and lowercase: registries SHOULD ignore parameters. */
export function bareMediaType(value: string | undefined): string {
  return (value ?? '').split(';')[0]!.trim().toLowerCase();
}
