import net from 'node:net';
import tls from 'node:tls';
import { BlobNotFoundError, type RandomAccessObject } from './driver.js';

/** What the socket reads into while no read waits (and for the response head); copied from here into the caller's buffers. */
const READ_BUFFER_BYTES = 256 * 1024;
/** Bytes set aside while no read is waiting (the caller is busy writing); beyond this the socket pauses. */
const STASH_LIMIT = 1024 * 1024;
/** A response head larger than this is not S3's. */
const HEAD_LIMIT = 64 * 1024;
/** Bytes of an error response's body kept for the message. */
const ERROR_BODY_LIMIT = 16 * 1024;
const CONNECT_TIMEOUT_MS = 5_000;
const IDLE_TIMEOUT_MS = 120_000;

/**
 * The store holds fewer bytes than the read asked for (the blob's row says more than S3 has):
 * a fact about the object, not about the connection, so no other way of reading helps.
 */
export class StoredSizeMismatchError extends Error {
  override name = 'StoredSizeMismatchError';
}

interface PendingRead {
  buffer: Buffer;
  offset: number;
  length: number;
  filled: number;
  resolve(n: number): void;
  reject(err: Error): void;
}

/**
 * Streams bytes `range.start..range.end` (inclusive) of an object from a presigned GET URL into
 * buffers the caller owns, reading sequentially; resolves once the response head arrived, so a
 * missing object is a `BlobNotFoundError` before any byte is promised to anyone.
 *
 * Why not the SDK's GetObject stream: node:http hands each socket read over as a freshly
 * allocated chunk (64 KiB) that travels through two streams before it is written out again,
 * and that allocation and stream work made a pull from S3 cost several times the CPU that
 * CNCF Distribution spends. Here the socket reads (`onread`) straight into the pooled buffers
 * the HTTP layer writes to the client (send-random-access.ts) while one of them waits, and
 * into one buffer of its own otherwise: no allocation per chunk, no stream in between, and
 * most bytes never copied in user space. The SDK still
 * signs the request (the presigned URL); this only reads one plain HTTP/1.1 response with a
 * Content-Length, which is what S3 GetObject always answers, and refuses anything else.
 */
export function openObjectReader(url: URL, key: string, range: { start: number; end: number }): Promise<RandomAccessObject> {
  return new Promise((resolveOpen, rejectOpen) => {
    const expected = range.end - range.start + 1;
    const readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
    let opened = false;
    let head: Buffer | undefined = Buffer.alloc(0);
    let status = 0;
    let errorBody: Buffer[] | undefined;
    let errorBodyBytes = 0;
    let errorBodyLength = Infinity;
    let received = 0;
    let position = range.start;
    let pending: PendingRead | undefined;
    // Bytes that arrived while no read was waiting: copied out of readBuffer into buffers of its
    // size that this reader keeps and reuses (`spare`). Allocating them per socket read cost,
    // on a quiet machine, more CPU in the garbage collector than anything else in a pull.
    const stash: { store: Buffer; start: number; end: number }[] = [];
    let stashBytes = 0;
    const spare: Buffer[] = [];
    let failure: Error | undefined;
    let done = false;

    const fail = (err: Error): void => {
      if (failure || done) return;
      failure = err;
      socket.destroy();
      if (!opened) rejectOpen(err);
      const waiting = pending;
      pending = undefined;
      waiting?.reject(err);
    };

    const settlePending = (): void => {
      const p = pending!;
      pending = undefined;
      position += p.filled;
      p.resolve(p.filled);
    };

    const deliver = (src: Buffer, from: number, to: number): void => {
      received += to - from;
      if (received > expected) return fail(new Error(`S3 sent more than the ${expected} bytes asked for of ${key}`));
      while (from < to) {
        if (pending) {
          const n = Math.min(to - from, pending.length - pending.filled);
          src.copy(pending.buffer, pending.offset + pending.filled, from, from + n);
          pending.filled += n;
          from += n;
          if (pending.filled === pending.length) settlePending();
        } else {
          // Packed: small socket reads share a store, so memory follows bytes, not reads.
          stashBytes += to - from;
          while (from < to) {
            let last = stash[stash.length - 1];
            if (!last || last.end === READ_BUFFER_BYTES) {
              last = { store: spare.pop() ?? Buffer.allocUnsafeSlow(READ_BUFFER_BYTES), start: 0, end: 0 };
              stash.push(last);
            }
            const n = src.copy(last.store, last.end, from, to);
            last.end += n;
            from += n;
          }
          if (stashBytes >= STASH_LIMIT) socket.pause();
          break;
        }
      }
      if (received === expected) {
        done = true;
        socket.destroy();
        if (pending) settlePending();
      }
    };

    const onHead = (text: string): void => {
      const lines = text.split('\r\n');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
      if (!m) return fail(new Error(`S3 answered a GET of ${key} with something that is not HTTP/1.1: ${JSON.stringify(lines[0]?.slice(0, 80))}`));
      status = Number(m[1]);
      const headers = new Map<string, string>();
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
      if (status < 200 || status > 299) {
        errorBody = [];
        if (headers.has('content-length')) errorBodyLength = Number(headers.get('content-length'));
        return;
      }
      if (headers.has('transfer-encoding')) return fail(new Error(`S3 answered a GET of ${key} with Transfer-Encoding ${headers.get('transfer-encoding')}; expected a Content-Length`));
      const length = Number(headers.get('content-length'));
      if (!Number.isSafeInteger(length)) return fail(new Error(`S3 answered a GET of ${key} without a Content-Length`));
      let size = length;
      if (status === 206) {
        const cr = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(headers.get('content-range') ?? '');
        if (!cr || Number(cr[1]) !== range.start) return fail(new Error(`S3 answered a GET of ${key} with Content-Range ${headers.get('content-range')}; expected bytes ${range.start}-${range.end}/…`));
        size = Number(cr[3]);
      } else if (range.start !== 0) {
        return fail(new Error(`S3 ignored the Range of a GET of ${key}`));
      }
      if (length !== expected) return fail(new StoredSizeMismatchError(`stored object ${key} is ${size} bytes; bytes ${range.start}-${range.end} of it were asked for`));
      opened = true;
      resolveOpen(reader(size));
    };

    const onError = (): void => {
      const text = Buffer.concat(errorBody ?? []).toString('utf8');
      const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
      if (status === 404) return fail(new BlobNotFoundError(key));
      fail(new Error(`S3 answered a GET of ${key} with HTTP ${status}${code ? ` ${code}` : ''}`));
    };

    // Where the socket reads next (asked after every read): straight into the waiting read's
    // buffer when there is one and nothing is set aside, so those bytes are never copied in
    // user space; otherwise into readBuffer. A direct target is never kept past its read:
    // the read settles in onRead, and the next target is asked for right after.
    const nextBuffer = (): Buffer => {
      if (!pending || head || errorBody || failure || done || stash.length > 0) return readBuffer;
      return pending.buffer.subarray(pending.offset + pending.filled, pending.offset + pending.length);
    };

    const onRead = (nread: number, buf: Buffer): boolean => {
      if (buf === readBuffer) onBytes(nread, readBuffer);
      else onDirect(nread);
      return true;
    };

    /** `nread` bytes landed in the waiting read's buffer itself (nextBuffer). */
    const onDirect = (nread: number): void => {
      if (failure || done) return;
      const p = pending;
      if (!p) return fail(new Error(`S3 GET of ${key}: bytes arrived for a read that is no longer waiting`));
      received += nread;
      if (received > expected) return fail(new Error(`S3 sent more than the ${expected} bytes asked for of ${key}`));
      p.filled += nread;
      if (p.filled === p.length) settlePending();
      if (received === expected) {
        done = true;
        socket.destroy();
        if (pending) settlePending();
      }
    };

    const onBytes = (nread: number, buf: Buffer): void => {
      if (failure || done) return;
      let from = 0;
      if (head) {
        head = Buffer.concat([head, buf.subarray(0, nread)]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) {
          if (head.length > HEAD_LIMIT) fail(new Error(`S3's answer to a GET of ${key} has no end of headers in its first ${HEAD_LIMIT} bytes`));
          return;
        }
        from = nread - (head.length - (end + 4));
        const text = head.toString('latin1', 0, end);
        head = undefined;
        onHead(text);
        if (failure) return;
      }
      if (errorBody) {
        if (errorBodyBytes < ERROR_BODY_LIMIT) errorBody.push(Buffer.from(buf.subarray(from, nread)));
        errorBodyBytes += nread - from;
        if (errorBodyBytes >= errorBodyLength) onError();
        return;
      }
      if (from < nread) deliver(buf, from, nread);
    };

    const options = { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port) || (url.protocol === 'https:' ? 443 : 80), onread: { buffer: nextBuffer, callback: onRead } };
    const socket: net.Socket =
      url.protocol === 'https:'
        ? tls.connect({ ...options, servername: net.isIP(options.host) ? undefined : options.host })
        : net.connect(options);
    socket.setNoDelay(true);
    socket.setTimeout(CONNECT_TIMEOUT_MS);
    socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
      socket.setTimeout(IDLE_TIMEOUT_MS);
      socket.write(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nRange: bytes=${range.start}-${range.end}\r\nConnection: close\r\nUser-Agent: berth\r\n\r\n`);
    });
    socket.on('timeout', () => fail(new Error(`S3 GET of ${key}: no data for ${opened ? IDLE_TIMEOUT_MS : CONNECT_TIMEOUT_MS} ms`)));
    socket.on('error', (err) => fail(err));
    socket.on('close', () => {
      if (done || failure) return;
      if (errorBody) return onError();
      fail(new Error(`S3 GET of ${key} ended after ${received} of ${expected} bytes`));
    });

    const reader = (size: number): RandomAccessObject => ({
      size,
      read(buffer, offset, length, at) {
        if (at !== position) return Promise.reject(new Error(`S3 objects are read front to back: asked for byte ${at}, next is ${position}`));
        length = Math.min(length, range.end + 1 - position);
        let filled = 0;
        while (filled < length && stash.length > 0) {
          const first = stash[0]!;
          const n = Math.min(length - filled, first.end - first.start);
          first.store.copy(buffer, offset + filled, first.start, first.start + n);
          filled += n;
          stashBytes -= n;
          first.start += n;
          if (first.start === first.end) spare.push(stash.shift()!.store);
        }
        if (filled === length || done) {
          position += filled;
          return Promise.resolve(filled);
        }
        if (failure) return Promise.reject(failure);
        if (stashBytes < STASH_LIMIT) socket.resume();
        return new Promise((resolve, reject) => {
          pending = { buffer, offset, length, filled, resolve, reject };
        });
      },
      async close() {
        done = true;
        socket.destroy();
      },
    });
  });
}
