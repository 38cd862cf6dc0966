// Fast, unique, streamable test data: one random 1 MiB block per process; piece i of a
// blob is that block with a 16-byte prefix (8 random bytes per blob + the piece number),
// so every MiB of every blob is distinct, yet nothing large is ever held in memory.
import { randomBytes, createHash } from 'node:crypto';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

const BASE = randomBytes(MiB);

export class SyntheticBlob {
  constructor(size) {
    this.size = size;
    this.nonce = randomBytes(8);
    this._digest = null;
  }

  /** Bytes of piece `i` (a fresh buffer, safe to hand to a socket). */
  piece(i) {
    const len = Math.min(MiB, this.size - i * MiB);
    const buf = Buffer.allocUnsafe(len);
    this._fill(buf, i, len);
    return buf;
  }

  _fill(buf, i, len) {
    BASE.copy(buf, 0, 0, len);
    const prefix = Buffer.allocUnsafe(16);
    this.nonce.copy(prefix, 0);
    prefix.writeBigUInt64BE(BigInt(i), 8);
    prefix.copy(buf, 0, 0, Math.min(16, len));
  }

  /** Iterates the bytes in [start, end) as buffers of at most 1 MiB. */
  *chunks(start = 0, end = this.size) {
    let pos = start;
    while (pos < end) {
      const i = Math.floor(pos / MiB);
      const off = pos - i * MiB;
      const len = Math.min(MiB - off, end - pos);
      const p = this.piece(i);
      yield off === 0 && len === p.length ? p : p.subarray(off, off + len);
      pos += len;
    }
  }

  /** sha256 digest of the whole blob (computed once, reusing one scratch buffer). */
  digest() {
    if (this._digest) return this._digest;
    const h = createHash('sha256');
    const scratch = Buffer.allocUnsafe(MiB);
    const pieces = Math.ceil(this.size / MiB);
    for (let i = 0; i < pieces; i++) {
      const len = Math.min(MiB, this.size - i * MiB);
      this._fill(scratch, i, len);
      h.update(scratch.subarray(0, len));
    }
    this._digest = `sha256:${h.digest('hex')}`;
    return this._digest;
  }
}

export function sha256(buf) {
  return `sha256:${createHash('sha256').update(buf).digest('hex')}`;
}
