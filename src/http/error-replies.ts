import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, isAppError } from '../errors/index.js';
import { lingeringClose } from './connections.js';

/** Input echoed in an error message is cut to this many characters. */
export const MAX_ECHO = 256;

export function truncate(text: string, max = MAX_ECHO): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

const LONG_RUN = new RegExp(`\\S{${MAX_ECHO + 1},}`, 'g');

/**
 * Caps every string in an error body, wherever it came from: messages and details may echo
 * what the client sent (a path, a name, a digest). Any run of more than MAX_ECHO characters
 * without a space is cut to MAX_ECHO, and no string exceeds four times that.
 */
export function capEcho<T>(value: T): T {
  if (typeof value === 'string') return truncate(value.replace(LONG_RUN, (run) => truncate(run)), 4 * MAX_ECHO) as T;
  if (Array.isArray(value)) return value.map((v) => capEcho(v)) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, capEcho(v)])) as T;
  return value;
}

/**
 * How one listener answers errors: its envelope (DigitalOcean's or OCI's), headers it adds to
 * every answer, and translations of its own (the API's schema validation) tried first.
 */
export interface ErrorShape {
  body(err: AppError, requestId: string): unknown;
  headers?: Record<string, string>;
  translate?(err: FastifyError): AppError | undefined;
  /** The answer for a path no route serves. */
  notFound(req: FastifyRequest): AppError;
}

/** Fastify's own errors (URL decoding, body parsers, limits) in Berth's vocabulary. */
export function fromFramework(err: FastifyError, req?: FastifyRequest): AppError {
  const path = truncate((req?.raw.url ?? '').split('?')[0]!);
  switch (err.code) {
    case 'FST_ERR_BAD_URL':
      return new AppError('BAD_REQUEST', `the URL "${path}" contains a malformed percent-escape`);
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new AppError('URI_TOO_LONG', `a segment of the URL "${path}" is too long`);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('BAD_REQUEST', 'the request body is empty; send a JSON object');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError('BAD_REQUEST', 'the request body is not valid JSON');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('PAYLOAD_TOO_LARGE', 'the request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_TYPE':
      return new AppError('UNSUPPORTED_MEDIA_TYPE', 'the Content-Type header is not a valid media type');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('BAD_REQUEST', 'the request body does not match its Content-Length');
    case 'FST_ERR_ROUTE_MISSING_CONTENT_TYPE':
      return new AppError('BAD_REQUEST', 'this request needs a Content-Type header');
  }
  if (err instanceof SyntaxError) return new AppError('BAD_REQUEST', 'the request body is not valid JSON');
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) return new AppError('BAD_REQUEST', truncate(err.message));
  return new AppError('INTERNAL');
}

/** Sends `appError` in the listener's envelope; logs what is our fault. */
function respond(shape: ErrorShape, req: FastifyRequest, reply: FastifyReply, appError: AppError, cause?: unknown): FastifyReply {
  if (appError.status >= 500) req.log.error({ err: cause ?? appError }, 'request failed');
  // Handlers may have set headers (Content-Length: 0, Location…) before they threw.
  reply.removeHeader('Content-Length');
  reply.headers({ ...shape.headers, ...appError.headers, 'X-Request-Id': req.id });
  return reply.status(appError.status).header('Content-Type', 'application/json; charset=utf-8').send(shape.body(appError, req.id));
}

/** Every error a route, the router or a body parser produces, answered in the listener's envelope. */
export function installErrorReplies(app: FastifyInstance, shape: ErrorShape): void {
  app.setErrorHandler((err: FastifyError | AppError, req, reply) => {
    const appError = isAppError(err) ? err : (shape.translate?.(err) ?? fromFramework(err, req));
    return respond(shape, req, reply, appError, err);
  });
  app.setNotFoundHandler((req, reply) => respond(shape, req, reply, shape.notFound(req)));
}

/** For Fastify's `frameworkErrors` option: errors raised before a route is even chosen. */
export function frameworkErrorReply(shape: ErrorShape) {
  return (err: FastifyError, req: FastifyRequest, reply: FastifyReply): void => {
    void respond(shape, req, reply, fromFramework(err, req), err);
  };
}

/** Node's verdict on a malformed request (it never reaches Fastify) as an AppError. */
function fromClientError(err: NodeJS.ErrnoException & { reason?: string }): AppError {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new AppError('REQUEST_TIMEOUT', 'the request line and headers were not received in time');
    case 'HPE_HEADER_OVERFLOW':
      return new AppError('HEADERS_TOO_LARGE', 'the request line and headers exceed 16 KiB');
    case 'HPE_URI_TOO_LONG':
      return new AppError('URI_TOO_LONG');
    case 'HPE_INVALID_METHOD':
      // llhttp cannot tell an unknown method from a line that is not HTTP at all.
      return new AppError('BAD_REQUEST', 'malformed HTTP request: the method is not one this server knows');
    default:
      // llhttp's reasons are fixed phrases ("Invalid header value char"), never the input.
      return new AppError('BAD_REQUEST', `malformed HTTP request${err.reason ? `: ${err.reason}` : ''}`);
  }
}

/** Writes a complete error response straight to a socket Node refused to parse, then closes it. */
export function writeRawError(socket: Socket, shape: ErrorShape, appError: AppError): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const requestId = randomUUID();
  const body = JSON.stringify(shape.body(appError, requestId));
  const headers = { ...shape.headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)), 'X-Request-Id': requestId, Connection: 'close' };
  const head = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.write(`HTTP/1.1 ${appError.status} ${STATUS_CODES[appError.status] ?? 'Error'}\r\n${head}\r\n${body}`);
  lingeringClose(socket);
}

/** For Fastify's `clientErrorHandler`: malformed HTTP gets a real answer in the listener's envelope. */
export function clientErrorReply(shape: ErrorShape, log: () => FastifyInstance['log']) {
  return (err: NodeJS.ErrnoException & { reason?: string }, socket: Socket): void => {
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || socket.destroyed) {
      socket.destroy();
      return;
    }
    // The error carries the raw request (rawPacket: headers, credentials); the logger redacts it.
    log().debug({ err, remote: socket.remoteAddress }, 'malformed request refused');
    writeRawError(socket, shape, fromClientError(err));
  };
}
