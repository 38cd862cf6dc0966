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
}

/**
 * Where an upload's sha256 state lives between appends, so that finishing never re-reads the
 * blob. Chosen by the driver's sessions:
 * - portable sessions (S3: the next PATCH may reach another node) keep a portable state in the
 *   upload's row. Node's crypto cannot export a sha256 midstate; hash-wasm can (slower: about
 *   a quarter of native speed on one core).
 * - sessions tied to one disk keep Node's native hash in memory and rebuild it from the bytes
 *   on disk after a restart.
 */
export interface UploadHashes {
  /** The hash for exactly `upload.received_bytes` bytes. */
  resume(upload: Upload, state: SessionState): Promise<RunningHash>;
  /** Keeps a hash that now covers `offset` bytes for the next append. */
  remember(uploadId: string, hash: RunningHash, offset: number): void;
  forget(uploadId: string): void;
}

export function uploadHashes(sessions: UploadSessions): UploadHashes {
  return sessions.portable ? new PortableHashes() : new InMemoryHashes(sessions);
}

class PortableHashes implements UploadHashes {
  async resume(upload: Upload): Promise<RunningHash> {
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

function nativeHash(hash: Hash): RunningHash {
  return {
    update: (chunk) => void hash.update(chunk),
    digest: () => `sha256:${hash.copy().digest('hex')}`,
    save: () => null,
  };
}
