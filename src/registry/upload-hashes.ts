import type { Hash } from 'node:crypto';
import { createSHA256 } from 'hash-wasm';
import type { Upload } from '../db/index.js';
import { createDigester } from '../oci/index.js';
import type { SessionState, UploadSessions } from '../storage/index.js';

/** A sha256 running over an upload's bytes. */
export interface RunningHash {
  update(chunk: Buffer): void;
  /** `sha256:<hex>` of everything so far; the hash stays usable. */
  digest(): string;
  /** The state to store with the upload's row, or null when it is kept in memory instead. */
  save(): string | null;
  /** True when the hash can only give its digest: appending more bytes is refused. */
  readonly sealed?: boolean;
}

/** How a `hash_state` that holds a finished digest instead of a midstate begins. */
const SEALED = 'sealed:';

/**
 * Where an upload's sha256 state lives between appends, so that finishing never re-reads the
 * blob. Chosen by the driver's sessions:
 * - portable sessions (S3: the next PATCH may reach another node) keep a portable state in the
 *   upload's row. Node's crypto cannot export a sha256 midstate; hash-wasm can (slower: about
 *   a quarter of native speed on one core). An upload whose bytes all arrive in the request
 *   that finishes it (a monolithic push) needs no midstate: it is hashed natively, and its row
 *   keeps the finished digest ("sealed"), enough to finish it on any node if finishing fails
 *   after the bytes were stored; such an upload cannot take more bytes.
 * - sessions tied to one disk keep Node's native hash in memory and rebuild it from the bytes
 *   on disk after a restart.
 */
export interface UploadHashes {
  /**
   * The hash for exactly `upload.received_bytes` bytes. `last`: the caller is about to append
   * the upload's last bytes and finish it in the same request.
   */
  resume(upload: Upload, state: SessionState, last?: boolean): Promise<RunningHash>;
  /** Keeps a hash that now covers `offset` bytes for the next append. */
  remember(uploadId: string, hash: RunningHash, offset: number): void;
  forget(uploadId: string): void;
}

export function uploadHashes(sessions: UploadSessions): UploadHashes {
  return sessions.portable ? new PortableHashes() : new InMemoryHashes(sessions);
}

class PortableHashes implements UploadHashes {
  async resume(upload: Upload, _state: SessionState, last = false): Promise<RunningHash> {
    if (upload.hash_state?.startsWith(SEALED)) return sealedHash(upload.id, upload.hash_state.slice(SEALED.length));
    if (last && upload.received_bytes === 0) return sealingHash(createDigester('sha256'));
    const hasher = await createSHA256();
    if (upload.hash_state) hasher.load(Buffer.from(upload.hash_state, 'base64'));
    else if (upload.received_bytes === 0) hasher.init();
    else throw new Error(`upload ${upload.id} has ${upload.received_bytes} bytes but no hash state`);
    return {
      update: (chunk) => void hasher.update(chunk),
      digest: () => {
        const copy = hasher.save();
        const hex = hasher.digest('hex');
        hasher.load(copy);
        return `sha256:${hex}`;
      },
      save: () => Buffer.from(hasher.save()).toString('base64'),
    };
  }
  remember(): void {}
  forget(): void {}
}

class InMemoryHashes implements UploadHashes {
  private readonly hashes = new Map<string, { hash: RunningHash; offset: number }>();

  constructor(private readonly sessions: UploadSessions) {}

  async resume(upload: Upload, state: SessionState): Promise<RunningHash> {
    const cached = this.hashes.get(upload.id);
    if (cached && cached.offset === upload.received_bytes) return cached.hash;
    const hash = nativeHash(createDigester('sha256'));
    if (upload.received_bytes > 0) {
      for await (const chunk of await this.sessions.read(upload.id, state, upload.received_bytes)) hash.update(chunk as Buffer);
    }
    this.hashes.set(upload.id, { hash, offset: upload.received_bytes });
    return hash;
  }

  remember(uploadId: string, hash: RunningHash, offset: number): void {
    this.hashes.set(uploadId, { hash, offset });
  }

  forget(uploadId: string): void {
    this.hashes.delete(uploadId);
  }
}

/** Native speed for a whole upload in one request; saves the finished digest, not a midstate. */
function sealingHash(hash: Hash): RunningHash {
  const digest = () => `sha256:${hash.copy().digest('hex')}`;
  return {
    update: (chunk) => void hash.update(chunk),
    digest,
    save: () => `${SEALED}${digest()}`,
  };
}

/** The hash of an upload whose bytes were all hashed at once (sealingHash): the digest only. */
function sealedHash(uploadId: string, digest: string): RunningHash {
  return {
    sealed: true,
    update: () => {
      throw new Error(`upload ${uploadId} has a sealed hash: it cannot take more bytes`);
    },
    digest: () => digest,
    save: () => `${SEALED}${digest}`,
  };
}

function nativeHash(hash: Hash): RunningHash {
  return {
    update: (chunk) => void hash.update(chunk),
    digest: () => `sha256:${hash.copy().digest('hex')}`,
    save: () => null,
  };
}
