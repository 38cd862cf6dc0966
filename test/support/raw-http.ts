/**
 * HTTP/1.1 over a raw socket, for tests that must control every byte a client sends: exact
 * header sets (curl's, godo's), body framing (none, Content-Length, chunked), malformed
 * requests, and clients that dribble or stall.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export interface RawResponse {
  status: number;
  /** Header names lower-cased; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
  text: string;
  /** The raw bytes received for this response. */
  raw: string;
}

export interface Target {
  port: number;
  host?: string;
  /** PEM CA to trust: speak TLS. */
  ca?: string | Buffer;
  servername?: string;
}

export function openSocket(target: Target): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const host = target.host ?? '127.0.0.1';
    const socket = target.ca
      ? tlsConnect({ host, port: target.port, ca: target.ca, servername: target.servername ?? (/^[\d.]+$/.test(host) ? undefined : host) }, () => resolve(socket))
      : netConnect({ host, port: target.port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Parses one response from the start of `buf`; undefined until it is complete. */
export function parseResponse(buf: Buffer, head = false): { response: RawResponse; used: number } | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  let offset = end + 4;
  let body: Buffer;
  if (head || status === 204 || status === 304) {
    body = Buffer.alloc(0);
  } else if (headers['transfer-encoding']?.toLowerCase().includes('chunked')) {
    const parts: Buffer[] = [];
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', offset);
      if (lineEnd < 0) return undefined;
      const size = parseInt(buf.subarray(offset, lineEnd).toString('latin1'), 16);
      if (buf.length < lineEnd + 2 + size + 2) return undefined;
      parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
      offset = lineEnd + 2 + size + 2;
      if (size === 0) break;
    }
    body = Buffer.concat(parts);
  } else {
    const length = Number(headers['content-length'] ?? 0);
    if (buf.length < offset + length) return undefined;
    body = buf.subarray(offset, offset + length);
    offset += length;
  }
  return { response: { status, headers, body, text: body.toString('utf8'), raw: buf.subarray(0, offset).toString('latin1') }, used: offset };
}

export interface Exchange {
  socket: Socket;
  /** Resolves with the first complete response (rejects if the connection ends first). */
  response: Promise<RawResponse>;
  /** Resolves when the server has closed the connection (its FIN or a reset). */
  closed: Promise<void>;
  /** Everything received so far. */
  received(): Buffer;
}

/** Opens a connection, writes `request`, and watches for the response and the close. */
export async function exchange(target: Target, request: string | Buffer, options: { head?: boolean } = {}): Promise<Exchange> {
  const socket = await openSocket(target);
  let buf = Buffer.alloc(0);
  let settle: ((r: RawResponse) => void) | undefined;
  let fail: ((e: Error) => void) | undefined;
  const response = new Promise<RawResponse>((resolve, reject) => {
    settle = resolve;
    fail = reject;
  });
  const closed = new Promise<void>((resolve) => {
    socket.once('end', () => resolve());
    socket.once('close', () => resolve());
  });
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    const parsed = parseResponse(buf, options.head);
    if (parsed) settle?.(parsed.response);
  });
  socket.on('error', () => undefined);
  socket.once('close', () => fail?.(new Error(`connection closed before a complete response; received:\n${buf.toString('latin1').slice(0, 2000)}`)));
  response.catch(() => undefined);
  socket.write(request);
  return { socket, response, closed, received: () => buf };
}

/** One request, one response, then the socket is closed by us. */
export async function rawRequest(target: Target, request: string | Buffer, options: { head?: boolean } = {}): Promise<RawResponse> {
  const ex = await exchange(target, request, options);
  try {
    return await ex.response;
  } finally {
    ex.socket.destroy();
  }
}

/** Builds a request: header order kept exactly as given, body framed as told. */
export function buildRequest(method: string, path: string, headers: [string, string][], body?: string | Buffer, framing: 'content-length' | 'none' | 'chunked' = body === undefined ? 'none' : 'content-length'): Buffer {
  const bytes = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
  const lines = [`${method} ${path} HTTP/1.1`, ...headers.map(([k, v]) => `${k}: ${v}`)];
  if (framing === 'content-length') lines.push(`Content-Length: ${bytes.length}`);
  if (framing === 'chunked') lines.push('Transfer-Encoding: chunked');
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  if (framing === 'chunked') {
    const chunk = bytes.length > 0 ? Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, Buffer.from('\r\n')]) : Buffer.alloc(0);
    return Buffer.concat([head, chunk, Buffer.from('0\r\n\r\n')]);
  }
  return Buffer.concat([head, bytes]);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
