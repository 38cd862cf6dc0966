import { createHash, type Hash } from 'node:crypto';

/** A parsed, validated content digest such as `sha256:9f86…`. */
export interface Digest {
  algorithm: 'sha256' | 'sha512';
  hex: string;
  /** The canonical string form, `algorithm:hex`. */
  value: string;
}

const HEX_LENGTH = { sha256: 64, sha512: 128 } as const;
const DIGEST_GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

export type DigestProblem = 'malformed' | 'unsupported-algorithm';

/** Parses a digest string; returns why it is unusable instead of throwing. */
export function parseDigest(input: string): Digest | DigestProblem {
  if (input.length > 200 || !DIGEST_GRAMMAR.test(input)) return 'malformed';
  const colon = input.indexOf(':');
  const algorithm = input.slice(0, colon);
  const hex = input.slice(colon + 1);
  if (algorithm !== 'sha256' && algorithm !== 'sha512') return 'unsupported-algorithm';
  if (hex.length !== HEX_LENGTH[algorithm] || !/^[a-f0-9]+$/.test(hex)) return 'malformed';
  return { algorithm, hex, value: input };
}

export function createDigester(algorithm: Digest['algorithm'] = 'sha256'): Hash {
  return createHash(algorithm);
}

export function digestOf(bytes: Uint8Array, algorithm: Digest['algorithm'] = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}
