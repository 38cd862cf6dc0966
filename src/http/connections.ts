import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Config } from '../config/index.js';

/** How long a closing connection keeps discarding what the client still sends. */
const LINGER_MS = 2_000;

/**
 * Closes a socket whose peer may still be sending, without losing what we wrote: half-close
 * (our FIN follows the response), discard what keeps arriving, and destroy after a short
 * linger. Destroying at once makes the kernel answer the client's next bytes with a reset that
 * can discard our response before the client reads it (curl then reports a send failure
 * instead of the 401); Go's server (closeWriteAndWait) and nginx (lingering_close) do the same.
 */
export function lingeringClose(socket: Socket, lingerMs = LINGER_MS): void {
  if (socket.destroyed) return;
  const timer = setTimeout(() => socket.destroy(), lingerMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.once('end', () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.end();
  socket.resume();
}

/**
 * A response sent before its request's body was read (a 401 before the upload, any early
 * error) closes the connection: otherwise Node reads and discards the rest of the body to keep
 * the connection alive, and a client dribbling that body holds the socket forever.
 */
function closeWhenBodyUnread(app: FastifyInstance): void {
  app.addHook('onSend', async (req, reply) => {
    if (req.raw.complete) return;
    reply.header('Connection', 'close');
    const socket = req.raw.socket as Socket & { destroySoon?: () => void };
    // Node ends a `Connection: close` response with socket.destroySoon(); make that linger.
    socket.destroySoon = () => lingeringClose(socket);
  });
}

/** Node server options carrying the timeouts: the header timeout is checked every second. */
function serverOptions(config: Readonly<Config>): http.ServerOptions {
  return {
    headersTimeout: config.headerTimeoutSeconds * 1000,
    // No limit on a whole request: a large upload that keeps moving is never cut. Stalls are
    // caught by the socket's idle timeout (connectionTimeout) instead.
    requestTimeout: 0,
    connectionsCheckingInterval: Math.min(1_000, config.headerTimeoutSeconds * 500),
    keepAliveTimeout: 75_000,
  };
}

/** Builds the listener's Node server (HTTP or HTTPS) for Fastify's `serverFactory`. */
export function createNodeServer(config: Readonly<Config>, handler: http.RequestListener, tls: { key: Buffer; cert: Buffer } | undefined): http.Server {
  const options = serverOptions(config);
  const server = tls ? https.createServer({ ...options, ...tls }, handler) : http.createServer(options, handler);
  server.keepAliveTimeout = 75_000;
  // Socket inactivity in either direction (nginx's client_body_timeout and send_timeout).
  server.setTimeout(config.bodyTimeoutSeconds * 1000);
  server.maxConnections = config.maxConnections;
  return server as unknown as http.Server;
}

/** Connection-level protections every listener shares. */
export function protectConnections(app: FastifyInstance, config: Readonly<Config>, log: FastifyBaseLogger, onConnect: (socket: Socket) => void): void {
  closeWhenBodyUnread(app);
  let lastWarning = 0;
  app.server.on('drop', () => {
    // Under a flood this fires per connection; say it once a minute.
    if (Date.now() - lastWarning < 60_000) return;
    lastWarning = Date.now();
    log.warn({ maxConnections: config.maxConnections }, 'connection limit reached; refusing new connections');
  });
  // CONNECT has no meaning here; Node would drop such a connection without a word.
  app.server.on('connect', (_req: http.IncomingMessage, socket: Socket) => onConnect(socket));
}
