/** What a manifest is, in words a person uses: an image, an index, a signature, an SBOM… */
import type { IndexChild, Manifest, Referrer } from './types.js';

const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);
const IMAGE_CONFIG_TYPES = new Set(['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json']);

export function isIndex(mediaType: string | undefined): boolean {
  return mediaType !== undefined && INDEX_TYPES.has(mediaType);
}

/** A referrer's or artifact's kind from its artifact type (cosign, Notation, SPDX, CycloneDX, in-toto…). */
export function artifactKind(artifactType: string | undefined): string {
  const t = (artifactType ?? '').toLowerCase();
  if (!t) return 'Artifact';
  if (t.includes('sig') || t.includes('notary') || t.includes('signature')) return 'Signature';
  if (t.includes('spdx') || t.includes('cyclonedx') || t.includes('sbom') || t.includes('syft')) return 'SBOM';
  if (t.includes('in-toto') || t.includes('attestation') || t.includes('provenance') || t.includes('dsse')) return 'Attestation';
  if (t.includes('vuln') || t.includes('sarif')) return 'Vulnerability report';
  return 'Artifact';
}

export function manifestKind(m: Pick<Manifest, 'media_type' | 'artifact_type'>): string {
  if (isIndex(m.media_type)) return 'Multi-architecture index';
  if (m.artifact_type === undefined || IMAGE_CONFIG_TYPES.has(m.artifact_type)) return 'Image';
  return artifactKind(m.artifact_type);
}

export function referrerKind(r: Referrer): string {
  return artifactKind(r.artifact_type);
}

/** `linux/arm64/v8`; Docker's build attestations sit in an index with an unknown platform. */
export function childLabel(c: IndexChild): string {
  if (c.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest') return 'Build attestation';
  const p = c.platform;
  if (!p?.os && !p?.architecture) return 'Unknown platform';
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/') + (p['os.version'] ? ` (${p['os.version']})` : '');
}
