import { describe, expect, it } from 'vitest';
import type { AppError } from '../errors/index.js';
import { parseManifest } from './manifest.js';
import { MediaType } from './media-types.js';

const D = (c: string) => `sha256:${c.repeat(64)}`;
const bytes = (v: unknown) => Buffer.from(JSON.stringify(v));

describe('parseManifest', () => {
  it('reads an OCI image manifest: blobs, subject, artifact type from config', () => {
    const parsed = parseManifest(
      bytes({
        schemaVersion: 2,
        config: { mediaType: 'application/vnd.example.config', digest: D('a'), size: 2 },
        layers: [
          { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: D('b'), size: 3 },
          { mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar', digest: D('c'), size: 4 },
        ],
        subject: { mediaType: MediaType.ociManifest, digest: D('d'), size: 5 },
      }),
      MediaType.ociManifest,
    );
    expect(parsed.mediaType).toBe(MediaType.ociManifest);
    expect(parsed.blobs.map((b) => b.digest)).toEqual([D('a'), D('b')]);
    expect(parsed.layers).toHaveLength(2);
    expect(parsed.subject?.digest).toBe(D('d'));
    expect(parsed.artifactType).toBe('application/vnd.example.config');
  });

  it('infers the type from the body when Content-Type is generic', () => {
    expect(parseManifest(bytes({ schemaVersion: 2, manifests: [] }), 'application/json').mediaType).toBe(MediaType.ociIndex);
    expect(parseManifest(bytes({ schemaVersion: 2, mediaType: MediaType.dockerManifest, config: { mediaType: 'x', digest: D('a'), size: 1 }, layers: [] }), '').mediaType).toBe(
      MediaType.dockerManifest,
    );
  });

  it('keeps an index artifactType and lists children', () => {
    const parsed = parseManifest(
      bytes({ schemaVersion: 2, artifactType: 'application/x', manifests: [{ mediaType: MediaType.ociManifest, digest: D('e'), size: 9 }] }),
      MediaType.ociIndex,
    );
    expect(parsed.isIndex).toBe(true);
    expect(parsed.manifests.map((m) => m.digest)).toEqual([D('e')]);
    expect(parsed.artifactType).toBe('application/x');
  });

  it.each([
    ['annotations that are not strings', { schemaVersion: 2, config: { mediaType: 'x', digest: D('a'), size: 1 }, annotations: { a: 1 } }, /annotations/],
    ['layers that are not an array', { schemaVersion: 2, config: { mediaType: 'x', digest: D('a'), size: 1 }, layers: {} }, /layers must be an array/],
    ['a fractional size', { schemaVersion: 2, config: { mediaType: 'x', digest: D('a'), size: 1.5 }, layers: [] }, /size/],
    ['an empty media type', { schemaVersion: 2, config: { mediaType: '', digest: D('a'), size: 1 }, layers: [] }, /mediaType/],
  ])('refuses %s, naming the field', (_label, body, message) => {
    expect(() => parseManifest(bytes(body), MediaType.ociManifest)).toThrow(message);
    try {
      parseManifest(bytes(body), MediaType.ociManifest);
    } catch (err) {
      expect((err as AppError).code).toBe('MANIFEST_INVALID');
    }
  });
});
