import { BlockList, isIP } from 'node:net';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../config/index.js';

/** proxy-addr's named ranges, which `--trust-proxy` accepts too. */
const NAMED_RANGES: Record<string, string[]> = {
  loopback: ['127.0.0.0/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) is 10.0.0.1. */
function normalise(address: string): string {
  return address.toLowerCase().startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/** Compiles `--trust-proxy` entries (validated by config) into a predicate on peer addresses. */
export function compileTrustProxy(entries: readonly string[]): (address: string | undefined) => boolean {
  const list = new BlockList();
  for (const entry of entries.flatMap((e) => NAMED_RANGES[e] ?? [e])) {
    const [address, bits] = entry.split('/') as [string, string | undefined];
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(bits), family);
  }
  return (address) => {
    if (!address || entries.length === 0) return false;
    const peer = normalise(address);
    return list.check(peer, isIP(peer) === 6 ? 'ipv6' : 'ipv4');
  };
}

const trustCache = new WeakMap<object, (address: string | undefined) => boolean>();

/** The trust predicate of this configuration (compiled once). */
export function trustProxyOf(config: Readonly<Config>): (address: string | undefined) => boolean {
  let fn = trustCache.get(config);
  if (!fn) {
    fn = compileTrustProxy(config.trustProxy);
    trustCache.set(config, fn);
  }
  return fn;
}

/** A DNS name, an IPv4 address or a bracketed IPv6 address, with an optional port. */
const HOST = /^(?:(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?))*|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

export function isValidHost(value: string): boolean {
  return value.length <= 260 && HOST.test(value);
}

/** The last value of a header a chain of proxies may have appended to (the nearest proxy's). */
function lastValue(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header.at(-1) : header;
  if (value === undefined) return undefined;
  return value.slice(value.lastIndexOf(',') + 1).trim();
}

/**
 * The scheme and host clients reach this listener at: from configuration (TLS or not, the
 * public registry host), overridden by `X-Forwarded-Proto`/`-Host` only when the peer is a
 * trusted proxy and the values are a scheme and a host. The client's own `Host` header is never
 * used: it is whatever the client says it is.
 */
export function publicOrigin(config: Readonly<Config>, req: FastifyRequest, host: string): string {
  let scheme = config.tls ? 'https' : 'http';
  if (trustProxyOf(config)(req.raw.socket.remoteAddress)) {
    const proto = lastValue(req.headers['x-forwarded-proto'])?.toLowerCase();
    if (proto === 'http' || proto === 'https') scheme = proto;
    const forwardedHost = lastValue(req.headers['x-forwarded-host']);
    if (forwardedHost && isValidHost(forwardedHost)) host = forwardedHost.toLowerCase();
  }
  return `${scheme}://${host}`;
}
