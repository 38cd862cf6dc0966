import { AppError } from '../errors/index.js';
import { parseDigest } from './digest.js';
import { isIndexMediaType, isManifestMediaType, isNonDistributable, MediaType, type ManifestMediaType } from './media-types.js';

/** A content descriptor as it appears in manifests. Unknown fields are kept as they came. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { architecture?: string; os?: string; variant?: string };
  [key: string]: unknown;
}

export interface ParsedManifest {
  mediaType: ManifestMediaType;
  isIndex: boolean;
  /** `artifactType`, or for image manifests without one, the config media type (as referrers report it). */
  artifactType: string | undefined;
  subject: Descriptor | undefined;
  annotations: Record<string, string> | undefined;
  config: Descriptor | undefined;
  /** Blobs the registry must hold: the config and every distributable layer. */
  blobs: Descriptor[];
  /** Every layer, including foreign ones (used for sizes). */
  layers: Descriptor[];
  /** Child manifests of an index. */
  manifests: Descriptor[];
}

/** Content types that say nothing about the manifest kind; the body's mediaType decides. */
const GENERIC_CONTENT_TYPES = new Set(['', 'application/json', 'application/octet-stream', 'text/plain']);

function invalid(message: string): AppError {
  return new AppError('MANIFEST_INVALID', message);
}

function parseDescriptor(value: unknown, where: string): Descriptor {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid(`${where} must be a descriptor object`);
  const d = value as Record<string, unknown>;
  if (typeof d.mediaType !== 'string' || d.mediaType.length === 0) throw invalid(`${where}.mediaType must be a non-empty string`);
  if (typeof d.digest !== 'string' || typeof parseDigest(d.digest) !== 'object') throw invalid(`${where}.digest is not a valid digest`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw invalid(`${where}.size must be a non-negative integer`);
  if (d.annotations !== undefined) checkAnnotations(d.annotations, `${where}.annotations`);
  if (d.artifactType !== undefined && typeof d.artifactType !== 'string') throw invalid(`${where}.artifactType must be a string`);
  return d as Descriptor;
}

function checkAnnotations(value: unknown, where: string): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid(`${where} must be an object`);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw invalid(`${where}["${k}"] must be a string`);
  }
  return value as Record<string, string>;
}

function descriptorList(value: unknown, where: string): Descriptor[] {
  if (!Array.isArray(value)) throw invalid(`${where} must be an array`);
  return value.map((v, i) => parseDescriptor(v, `${where}[${i}]`));
}

function resolveMediaType(contentType: string, body: Record<string, unknown>): ManifestMediaType {
  const declared = typeof body.mediaType === 'string' ? body.mediaType : undefined;
  if (body.mediaType !== undefined && declared === undefined) throw invalid('mediaType must be a string');
  const header = contentType.split(';')[0]!.trim().toLowerCase();
  if (!GENERIC_CONTENT_TYPES.has(header)) {
    if (!isManifestMediaType(header)) throw invalid(`unsupported manifest media type "${header}"`);
    if (declared !== undefined && declared !== header) throw invalid(`mediaType "${declared}" in the manifest does not match Content-Type "${header}"`);
    return header;
  }
  if (declared !== undefined) {
    if (!isManifestMediaType(declared)) throw invalid(`unsupported manifest media type "${declared}"`);
    return declared;
  }
  if (Array.isArray(body.manifests)) return MediaType.ociIndex;
  if (body.config !== undefined) return MediaType.ociManifest;
  throw invalid('cannot tell the manifest media type: set Content-Type or mediaType');
}

/**
 * Parses and validates manifest bytes as pushed. Throws `MANIFEST_INVALID` naming the field at
 * fault. Existence of referenced content is checked by the caller, which knows the repository.
 */
export function parseManifest(bytes: Uint8Array, contentType: string): ParsedManifest {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    throw invalid('manifest is not valid JSON');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalid('manifest must be a JSON object');
  const m = body as Record<string, unknown>;
  if (m.schemaVersion === 1) throw invalid('Docker schema 1 manifests are not supported; push schema 2 or OCI');
  if (m.schemaVersion !== 2) throw invalid('schemaVersion must be 2');
  const mediaType = resolveMediaType(contentType, m);
  const isIndex = isIndexMediaType(mediaType);
  const annotations = m.annotations === undefined ? undefined : checkAnnotations(m.annotations, 'annotations');
  const subject = m.subject === undefined ? undefined : parseDescriptor(m.subject, 'subject');
  if (m.artifactType !== undefined && typeof m.artifactType !== 'string') throw invalid('artifactType must be a string');
  const declaredArtifactType = m.artifactType as string | undefined;

  if (isIndex) {
    const manifests = descriptorList(m.manifests, 'manifests');
    return { mediaType, isIndex, artifactType: declaredArtifactType, subject, annotations, config: undefined, blobs: [], layers: [], manifests };
  }
  if (m.config === undefined) throw invalid('config is required');
  const config = parseDescriptor(m.config, 'config');
  const layers = m.layers === undefined ? [] : descriptorList(m.layers, 'layers');
  const blobs = [config, ...layers.filter((l) => !isNonDistributable(l.mediaType))];
  return {
    mediaType,
    isIndex,
    artifactType: declaredArtifactType ?? config.mediaType,
    subject,
    annotations,
    config,
    blobs,
    layers,
    manifests: [],
  };
}
