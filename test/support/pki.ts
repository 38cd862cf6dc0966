/**
 * A throw-away certificate authority and server certificates for 127.0.0.1, made with the
 * openssl CLI, for TLS tests with verification on. `certDir` holds only `ca.crt`: the layout
 * skopeo's --cert-dir and podman's --cert-dir read.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runOk } from './exec.js';
import { makeTempDir } from './tmp.js';

export const PKI_TOOLS = ['openssl'] as const;

export interface ServerCertificate {
  certFile: string;
  keyFile: string;
  /** The subject CN, to tell certificates apart on the wire. */
  commonName: string;
}

export interface Pki {
  dir: string;
  /** PEM of the CA certificate. */
  ca: string;
  /** A directory with just ca.crt in it. */
  certDir: string;
  /** Issues a certificate for 127.0.0.1 and localhost signed by the CA. */
  issue(commonName: string): Promise<ServerCertificate>;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export async function createPki(): Promise<Pki> {
  const dir = await makeTempDir('pki');
  const caKey = join(dir, 'ca.key');
  const caCert = join(dir, 'ca.crt');
  await runOk('openssl', ['req', '-x509', ...EC, '-keyout', caKey, '-out', caCert, '-days', '2', '-subj', '/CN=Berth Test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const certDir = join(dir, 'certs.d');
  await mkdir(certDir);
  const ca = await readFile(caCert, 'utf8');
  await writeFile(join(certDir, 'ca.crt'), ca);
  let serial = 0;
  return {
    dir,
    ca,
    certDir,
    async issue(commonName) {
      serial += 1;
      const keyFile = join(dir, `${commonName}.key`);
      const csr = join(dir, `${commonName}.csr`);
      const certFile = join(dir, `${commonName}.crt`);
      const ext = join(dir, `${commonName}.ext`);
      await writeFile(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
      await runOk('openssl', ['req', ...EC, '-keyout', keyFile, '-out', csr, '-subj', `/CN=${commonName}`]);
      await runOk('openssl', ['x509', '-req', '-in', csr, '-CA', caCert, '-CAkey', caKey, '-set_serial', String(1000 + serial), '-out', certFile, '-days', '2', '-extfile', ext]);
      return { certFile, keyFile, commonName };
    },
  };
}
