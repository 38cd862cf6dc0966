/**
 * Generators for what clients put on the wire: names, references, digests, ranges, query
 * values, manifests and API bodies. Each mixes the valid (so requests get past the first
 * check and exercise deeper code) with the near-valid and the hostile.
 */
import fc from 'fast-check';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

const hex = (length: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: length, maxLength: length });

/** Strings that have broken parsers elsewhere: escapes, separators, control and wide characters. */
export const nastyString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('', ' ', '..', '../..', '%2F', '%2e%2e', '%00', '\u0000', '\t', '\r\n', '"', "'", '\\', '<script>', '${x}', '%', '%zz', '%E2%82', '+', '&', '=', '?', '#', '/', '//', '\u202e', '🙂', 'a'.repeat(300), '__proto__', 'constructor'),
);

/** Numbers as they appear in query strings, in and far out of range. */
export const numericText = fc.oneof(
  fc.nat({ max: 300 }).map(String),
  fc.integer().map(String),
  fc.constantFrom('0', '-1', '1e20', '1e308', '9007199254740993', '99999999999999999999999', '1.5', 'NaN', 'Infinity', '-0', '0x10', ' 1', '1 ', '', 'abc', '１'),
);

export const digest = (known: readonly string[]) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...known) },
    { weight: 2, arbitrary: hex(64).map((h) => `sha256:${h}`) },
    { weight: 1, arbitrary: hex(128).map((h) => `sha512:${h}`) },
    { weight: 1, arbitrary: fc.nat({ max: 130 }).chain((n) => hex(n)).map((h) => `sha256:${h}`) },
    { weight: 1, arbitrary: hex(64).map((h) => `sha256:${h.toUpperCase()}`) },
    { weight: 1, arbitrary: fc.constantFrom('md5:d41d8cd98f00b204e9800998ecf8427e', 'sha256:', ':', 'sha256', 'SHA256:' + 'a'.repeat(64), 'sha256+b64:abc', 'sha256:' + 'a'.repeat(64) + '\n') },
    { weight: 1, arbitrary: nastyString },
  );

/** Repository names inside the fixture registry, other teams' registries and outright invalid ones. */
export const repositoryName = (registry: string, known: readonly string[], foreign: string) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...known) },
    { weight: 2, arbitrary: fc.stringMatching(/^[a-z0-9]{1,8}(\/[a-z0-9]{1,8}){0,2}$/).map((p) => `${registry}/${p}`) },
    { weight: 1, arbitrary: fc.constantFrom(`${foreign}/app`, `${registry}`, `${registry}/`, `${registry}//app`, `${registry}/App`, `${registry}/../x`, `${registry}/%2e%2e/x`, `${registry}/a%2Fb`, `Nope/app`, `${registry}/${'a'.repeat(260)}`, `${registry}/-a`, `${registry}/a--b`, `${registry}/a__b`, `${registry}/.a`, `subscription/app`) },
    { weight: 1, arbitrary: nastyString.map((s) => `${registry}/${s}`) },
  );

export const tag = (known: readonly string[]) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...known) },
    { weight: 2, arbitrary: fc.stringMatching(/^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,20}$/) },
    { weight: 1, arbitrary: fc.constantFrom('-bad', '.bad', 'a'.repeat(129), 'has space', 'a/b', 'a:b', '') },
    { weight: 1, arbitrary: nastyString },
  );

export const reference = (tags: readonly string[], digests: readonly string[]) => fc.oneof(tag(tags), digest(digests));

/** `Range` request headers for blob GETs. */
export const rangeHeader = fc.oneof(
  fc.tuple(fc.nat({ max: 5000 }), fc.nat({ max: 5000 })).map(([a, b]) => `bytes=${a}-${b}`),
  fc.nat({ max: 5000 }).map((a) => `bytes=${a}-`),
  fc.nat({ max: 5000 }).map((a) => `bytes=-${a}`),
  fc.tuple(numericText, numericText).map(([a, b]) => `bytes=${a}-${b}`),
  fc.constantFrom('bytes=0-1,3-4', 'bytes=', 'bytes=-', 'items=0-1', 'bytes 0-1', 'bytes=1-0', 'bytes=99999999999999999999-', 'bytes=0-99999999999999999999', '0-1'),
  nastyString,
);

/** `Content-Range` headers on upload PATCH/PUT. */
export const contentRangeHeader = fc.oneof(
  fc.tuple(fc.nat({ max: 300 }), fc.nat({ max: 300 })).map(([a, b]) => `${a}-${b}`),
  fc.tuple(fc.nat({ max: 300 }), fc.nat({ max: 300 })).map(([a, b]) => `bytes ${a}-${b}/*`),
  fc.tuple(numericText, numericText).map(([a, b]) => `${a}-${b}`),
  fc.constantFrom('0-', '-', 'bytes=0-10', '0-10/5', '99999999999999999999-99999999999999999999', ''),
  nastyString,
);

const jsonLeaf = fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
export const anyJson: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, jsonLeaf, fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 10 }), tie('value'), { maxKeys: 4 })),
})).value;

const mediaType = fc.oneof(
  fc.constantFrom(OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST, 'application/vnd.oci.image.config.v1+json', 'application/vnd.oci.image.layer.v1.tar+gzip', 'application/vnd.oci.empty.v1+json', 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', 'application/vnd.docker.distribution.manifest.v1+json'),
  nastyString,
);

/** A descriptor, mostly of known blobs with their true sizes, sometimes wrong in one field. */
export const descriptor = (blobs: readonly { digest: string; size: number }[], manifests: readonly { digest: string; size: number; mediaType: string }[]) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...blobs).map((b) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: b.digest, size: b.size })) },
    { weight: 2, arbitrary: fc.constantFrom(...manifests).map((m) => ({ mediaType: m.mediaType, digest: m.digest, size: m.size, platform: { architecture: 'amd64', os: 'linux' } })) },
    {
      weight: 2,
      arbitrary: fc.record(
        {
          mediaType,
          digest: digest(blobs.map((b) => b.digest)),
          size: fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.constantFrom(-1, 2 ** 53, '12', null)),
          annotations: fc.oneof(fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })), anyJson),
          platform: fc.oneof(fc.record({ architecture: nastyString, os: nastyString }), anyJson),
          artifactType: fc.oneof(mediaType, anyJson),
          urls: fc.array(nastyString, { maxLength: 2 }),
        },
        { requiredKeys: [] },
      ),
    },
    { weight: 1, arbitrary: anyJson },
  );

/** Manifest and index documents, structurally plausible with random defects, and raw garbage. */
export const manifestBody = (blobs: readonly { digest: string; size: number }[], manifests: readonly { digest: string; size: number; mediaType: string }[]) => {
  const d = descriptor(blobs, manifests);
  const doc = fc.record(
    {
      schemaVersion: fc.oneof(fc.constant(2), fc.constant(2), anyJson),
      mediaType: fc.oneof(mediaType, fc.constant(undefined)),
      config: d,
      layers: fc.oneof(fc.array(d, { maxLength: 6 }), anyJson),
      manifests: fc.oneof(fc.array(d, { maxLength: 4 }), anyJson),
      subject: fc.oneof(d, fc.constant(undefined)),
      artifactType: fc.oneof(mediaType, fc.constant(undefined)),
      annotations: fc.oneof(fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 10 })), anyJson),
    },
    { requiredKeys: ['schemaVersion'] },
  );
  return fc.oneof(
    { weight: 6, arbitrary: doc.map((x) => Buffer.from(JSON.stringify(x))) },
    { weight: 1, arbitrary: anyJson.map((x) => Buffer.from(JSON.stringify(x) ?? 'null')) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) },
    { weight: 1, arbitrary: fc.constantFrom('{', '{"schemaVersion":2,"schemaVersion":3}', '{"__proto__":{"x":1},"schemaVersion":2}', `${'['.repeat(5000)}${']'.repeat(5000)}`, '\uFEFF{"schemaVersion":2}', '').map((s) => Buffer.from(s)) },
  );
};

export const manifestContentType = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST) },
  { weight: 1, arbitrary: fc.constantFrom('', 'application/json', 'application/octet-stream', 'text/plain', 'application/vnd.docker.distribution.manifest.v1+prettyjws', `${OCI_MANIFEST}; charset=utf-8`, 'multipart/form-data; boundary=x') },
  { weight: 1, arbitrary: nastyString },
);

/** A JSON value shaped by an OpenAPI schema, with a wrong type or an extra field now and then. */
export function fromSchema(schema: Record<string, unknown> | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (!schema || depth > 3) return anyJson;
  const wrong = anyJson;
  let right: fc.Arbitrary<unknown>;
  const enumValues = schema.enum as unknown[] | undefined;
  if (enumValues) right = fc.constantFrom(...enumValues);
  else if (schema.type === 'string') right = fc.oneof(fc.string({ maxLength: 70 }), fc.stringMatching(/^[a-z][a-z0-9-]{0,20}[a-z0-9]$/), nastyString);
  else if (schema.type === 'integer') right = fc.oneof(fc.integer(), fc.constantFrom(0, -1, 2 ** 31, 2 ** 53, 1e20));
  else if (schema.type === 'number') right = fc.oneof(fc.double(), fc.integer());
  else if (schema.type === 'boolean') right = fc.boolean();
  else if (schema.type === 'array') right = fc.array(fromSchema(schema.items as Record<string, unknown>, depth + 1), { maxLength: 4 });
  else if (schema.type === 'object' || schema.properties) {
    const props = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
    const model: Record<string, fc.Arbitrary<unknown>> = {};
    for (const [k, v] of Object.entries(props)) model[k] = fromSchema(v, depth + 1);
    model.__extra = anyJson;
    right = fc.record(model, { requiredKeys: [] }).map((o) => {
      const copy = { ...(o as Record<string, unknown>) };
      if ('__extra' in copy) {
        copy.unexpected_field = copy.__extra;
        delete copy.__extra;
      }
      return copy;
    });
  } else right = anyJson;
  return fc.oneof({ weight: 5, arbitrary: right }, { weight: 1, arbitrary: wrong });
}
