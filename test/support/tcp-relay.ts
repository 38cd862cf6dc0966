/**
 * A TCP relay on a free 127.0.0.1 port in front of a real server: what a client sees as the
 * server's address. `cut()` makes that address dead (open connections dropped, new ones
 * refused) and `restore()` brings it back on the same port; `failNext(n)` drops the open
 * connections and resets the next n at once: a network failure of exactly the length a test
 * chooses, counted, with the real server untouched behind it.
 */
import net from 'node:net';
import { freePort } from './postgres.js';

export interface TcpRelay {
  /** The relay's port: point clients here. */
  port: number;
  /** Connections reset by `failNext` so far. */
  readonly failed: number;
  failNext(n: number): void;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpRelay(target: { host: string; port: number }): Promise<TcpRelay> {
  const port = await freePort();
  const open = new Set<net.Socket>();
  let toFail = 0;
  let failed = 0;
  const server = net.createServer((client) => {
    if (toFail > 0) {
      toFail--;
      failed++;
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect(target.port, target.host);
    open.add(client);
    open.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const dropOpen = () => {
    for (const socket of open) socket.destroy();
    open.clear();
  };
  const listen = () => new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', () => resolve()));
  const stopListening = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      dropOpen();
    });
  await listen();
  return {
    port,
    get failed() {
      return failed;
    },
    failNext(n) {
      toFail = n;
      dropOpen();
    },
    cut: stopListening,
    restore: listen,
    close: stopListening,
  };
}
