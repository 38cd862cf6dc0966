import { readFileSync } from 'node:fs';
import type { Server } from 'node:https';
import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { ConfigError, type Config } from '../config/index.js';

export interface TlsMaterial {
  key: Buffer;
  cert: Buffer;
}

type TlsFiles = NonNullable<Config['tls']>;

function read(file: string, label: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError([`${label}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
}

/**
 * Reads the certificate chain and key and checks that OpenSSL accepts them as a pair, so a bad
 * file stops the server at start (or is refused on reload) with a message naming it.
 */
export function readTlsMaterial(files: TlsFiles): TlsMaterial {
  const cert = read(files.certFile, '--tls-cert / BERTH_TLS_CERT');
  const key = read(files.keyFile, '--tls-key / BERTH_TLS_KEY');
  if (!cert.toString('latin1').includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError([`--tls-cert / BERTH_TLS_CERT: ${files.certFile} holds no PEM certificate`]);
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key.toString('latin1'))) {
    throw new ConfigError([`--tls-key / BERTH_TLS_KEY: ${files.keyFile} holds no PEM private key`]);
  }
  try {
    createSecureContext({ key, cert });
  } catch (err) {
    throw new ConfigError([`--tls-cert / --tls-key: ${files.certFile} and ${files.keyFile} are not a usable pair: ${(err as Error).message}`]);
  }
  return { key, cert };
}

/**
 * SIGHUP: load the files again and hand new handshakes the new certificate; connections already
 * open keep theirs. A bad new file is logged and the certificate in use stays.
 */
export function reloadCertificates(config: Readonly<Config>, servers: readonly { server: unknown }[], logger: Logger): boolean {
  if (!config.tls) {
    logger.info('SIGHUP: no --tls-cert configured, nothing to reload');
    return false;
  }
  let material: TlsMaterial;
  try {
    material = readTlsMaterial(config.tls);
  } catch (err) {
    logger.error({ err: { message: (err as Error).message } }, 'SIGHUP: the new certificate was refused; still serving the previous one');
    return false;
  }
  for (const { server } of servers) (server as Server).setSecureContext(material);
  logger.info({ cert: config.tls.certFile }, 'SIGHUP: certificate reloaded');
  return true;
}
