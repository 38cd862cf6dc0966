import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyReply } from 'fastify';
import type { RandomAccessObject } from '../storage/index.js';

/** Bytes per read and per socket write: large enough for few syscalls, small enough to stay in cache. */
const CHUNK_BYTES = 1024 * 1024;
/** Reads that may run ahead of the socket per response. */
const CHUNKS_IN_FLIGHT = 4;
/** Buffers kept for reuse across responses; beyond this they are left to the garbage collector. */
const POOL_LIMIT = 32;

const pool: Buffer[] = [];

/**
 * Sends bytes `start..end` (inclusive) of `object` as the body of `reply`, whose status and
 * headers are already set, and closes the object.
 *
 * Why not a Readable piped into the response: a stream allocates a fresh buffer per chunk,
 * and a fresh megabyte is fresh pages — page faults, then work for the garbage collector.
 * That, not the socket copy, was what made pulls cost more CPU per GiB than Distribution's
 * sendfile. Here a handful of pooled buffers cycle between disk reads and socket writes: a
 * buffer is read into again only after the socket's write callback said the kernel has its
 * bytes, and at most CHUNKS_IN_FLIGHT reads run ahead, which is also the backpressure.
 */
export async function sendRandomAccess(reply: FastifyReply, object: RandomAccessObject, start: number, end: number): Promise<void> {
  const res = reply.raw;
  reply.hijack();
  let inFlight = 0;
  let closed = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  const onClose = () => {
    closed = true;
    notify();
  };
  res.once('close', onClose);
  try {
    res.writeHead(reply.statusCode, reply.getHeaders() as OutgoingHttpHeaders);
    let position = start;
    while (position <= end && !closed) {
      while (inFlight >= CHUNKS_IN_FLIGHT && !closed) await new Promise<void>((resolve) => (wake = resolve));
      if (closed) break;
      const buffer = pool.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES);
      const read = await object.read(buffer, 0, Math.min(CHUNK_BYTES, end + 1 - position), position);
      if (read === 0) {
        pool.push(buffer);
        throw new Error(`stored object ended at byte ${position}, expected ${end + 1}`);
      }
      position += read;
      inFlight++;
      res.write(read === buffer.length ? buffer : buffer.subarray(0, read), (err) => {
        inFlight--;
        // After a failed write the socket may still hold the bytes; let that buffer go.
        if (!err && pool.length < POOL_LIMIT) pool.push(buffer);
        notify();
      });
    }
    if (!closed) res.end();
  } catch (err) {
    // Headers are gone already: all a client can be told is that the body is cut short.
    reply.log.error({ err }, 'sending a blob failed mid-way');
    res.destroy(err as Error);
  } finally {
    res.off('close', onClose);
    await object.close();
  }
}
