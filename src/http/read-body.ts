import type { IncomingMessage } from 'node:http';
import { AppError, type ErrorCode } from '../errors/index.js';

/**
 * Reads a small request body whole, refusing more than `limit` bytes before buffering them.
 */
export async function readBody(req: IncomingMessage, limit: number, tooLarge: ErrorCode, what: string): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new AppError(tooLarge, `${what} is ${declared} bytes; the limit is ${limit}`);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).length;
    if (total > limit) throw new AppError(tooLarge, `${what} exceeds the limit of ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
