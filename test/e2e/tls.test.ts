/**
 * HTTPS on both listeners (--tls-cert/--tls-key) against the real server, with a CA and
 * certificates this test makes: skopeo and podman log in, push and pull with TLS verification
 * on (the CA handed to them in a --cert-dir), the token realm is https, SIGHUP swaps the
 * certificate for new handshakes while an open keep-alive connection goes on working, a bad
 * new certificate is refused and logged, and bad files stop the start with a clear message.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { expectFailure, expectSuccess, isolatedPodman, PODMAN_TOOLS, skopeo, SKOPEO_TOOLS, type Podman } from '../support/clients.js';
import { run } from '../support/exec.js';
import { buildImage, IMAGE_TOOLS, type SingleImage } from '../support/images.js';
import { createPki, PKI_TOOLS, type Pki, type ServerCertificate } from '../support/pki.js';
import { openSocket, parseResponse, type RawResponse } from '../support/raw-http.js';
import { MAIN_JS, REPO_ROOT, startServer, uniqueName, type TestServer } from '../support/server.js';
import { makeTempDir } from '../support/tmp.js';
import { requireTools } from '../support/tools.js';

const skip = requireTools([...PKI_TOOLS, ...SKOPEO_TOOLS, ...PODMAN_TOOLS, ...IMAGE_TOOLS]);

/** Sends one request on an open (keep-alive) socket and reads its response. */
function requestOn(socket: TLSSocket, request: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const parsed = parseResponse(buf);
      if (!parsed) return;
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve(parsed.response);
    };
    const onClose = () => reject(new Error(`connection closed; received ${buf.toString('latin1')}`));
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write(request);
  });
}

const peerName = (socket: TLSSocket) => socket.getPeerCertificate().subject.CN;

describe.skipIf(skip)('TLS', { timeout: 180_000 }, () => {
  let pki: Pki;
  let first: ServerCertificate;
  let server: TestServer;
  let registry: string;
  let authfile: string;
  let password: string;
  let image: SingleImage;
  let podman: Podman;
  /** Where the server reads its certificate and key (rewritten by the reload test). */
  let live: { certFile: string; keyFile: string };

  beforeAll(async () => {
    pki = await createPki();
    first = await pki.issue('berth-first');
    const dir = await makeTempDir('live-tls');
    live = { certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
    await writeFile(live.certFile, await readFile(first.certFile));
    await writeFile(live.keyFile, await readFile(first.keyFile));
    server = await startServer({ tls: { ...live, ca: pki.ca }, args: ['--log-level', 'info'] });
    registry = uniqueName('tls');
    await server.createRegistry(registry);
    const config = await server.dockerCredentials(registry, { readWrite: true });
    authfile = await server.writeAuthFile(config);
    password = server.credentialsOf(config).password;
    [image, podman] = await Promise.all([buildImage(), isolatedPodman()]);
  });
  afterAll(async () => {
    await server?.stop();
    await podman?.cleanup();
  });

  test('both listeners speak HTTPS with the configured certificate, and the token realm is https', async () => {
    for (const url of [server.apiUrl, server.registryUrl]) {
      expect(url.startsWith('https://')).toBe(true);
      const socket = (await openSocket({ port: Number(new URL(url).port), ca: pki.ca })) as TLSSocket;
      expect(socket.authorized).toBe(true);
      expect(peerName(socket)).toBe('berth-first');
      socket.destroy();
    }
    const res = await server.fetch(`${server.registryUrl}/v2/`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(`Bearer realm="https://${server.registryHost}/auth/token",service="${server.registryHost}"`);
    // Plain HTTP to an HTTPS listener gets nowhere.
    await expect(fetch(`http://${server.registryHost}/v2/`).then((r) => r.status)).rejects.toThrow();
  });

  test('skopeo pushes and inspects with verification on, and fails without the CA', async () => {
    const ref = `docker://${server.registryHost}/${registry}/app:v1`;
    expectSuccess(await skopeo(['copy', '--preserve-digests', '--dest-cert-dir', pki.certDir, '--authfile', authfile, image.ref, ref]), server);
    const inspected = expectSuccess(await skopeo(['inspect', '--raw', '--cert-dir', pki.certDir, '--authfile', authfile, ref]), server);
    expect(inspected.stdout.trim()).toBe(image.manifest.toString('utf8').trim());
    const refused = expectFailure(await skopeo(['inspect', '--raw', '--authfile', authfile, ref]));
    expect(refused.stderr).toMatch(/x509|certificate/i);
  });

  test('podman logs in, pushes and pulls with verification on (--cert-dir)', async () => {
    const ref = `${server.registryHost}/${registry}/podman:v1`;
    const login = expectSuccess(await podman.run(['login', '--cert-dir', pki.certDir, '--authfile', podman.authfile, '-u', 'x', '-p', password, server.registryHost]), server);
    expect(login.stdout).toMatch(/Login Succeeded/i);
    expectSuccess(await podman.run(['pull', '--cert-dir', pki.certDir, '--authfile', podman.authfile, `${server.registryHost}/${registry}/app:v1`]), server);
    expectSuccess(await podman.run(['push', '--cert-dir', pki.certDir, '--authfile', podman.authfile, `${server.registryHost}/${registry}/app:v1`, `docker://${ref}`]), server);
    const fresh = await isolatedPodman();
    try {
      expectSuccess(await fresh.run(['login', '--cert-dir', pki.certDir, '--authfile', fresh.authfile, '-u', 'x', '-p', password, server.registryHost]), server);
      expectSuccess(await fresh.run(['pull', '--cert-dir', pki.certDir, '--authfile', fresh.authfile, ref]), server);
      const digest = expectSuccess(await fresh.run(['image', 'inspect', '--format', '{{.Digest}}', ref]), server).stdout.trim();
      expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    } finally {
      await fresh.cleanup();
    }
  });

  test('SIGHUP: new handshakes get the new certificate, an open connection keeps working, a bad file is refused', async () => {
    const port = Number(new URL(server.apiUrl).port);
    const health = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
    const before = (await openSocket({ port, ca: pki.ca })) as TLSSocket;
    expect((await requestOn(before, health)).status).toBe(200);
    expect(peerName(before)).toBe('berth-first');

    const second = await pki.issue('berth-second');
    await writeFile(live.certFile, await readFile(second.certFile));
    await writeFile(live.keyFile, await readFile(second.keyFile));
    const logged = server.logs.length;
    server.process.kill('SIGHUP');
    await waitForLog(server, logged, 'SIGHUP: certificate reloaded');

    // The connection opened before the reload goes on, on its old session.
    expect((await requestOn(before, health)).status).toBe(200);
    for (const url of [server.apiUrl, server.registryUrl]) {
      const after = (await openSocket({ port: Number(new URL(url).port), ca: pki.ca })) as TLSSocket;
      expect(peerName(after)).toBe('berth-second');
      after.destroy();
    }

    // A broken certificate is refused: the server logs it and keeps serving the second one.
    await writeFile(live.certFile, 'not a certificate\n');
    const logged2 = server.logs.length;
    server.process.kill('SIGHUP');
    await waitForLog(server, logged2, 'SIGHUP: the new certificate was refused');
    const still = (await openSocket({ port, ca: pki.ca })) as TLSSocket;
    expect(peerName(still)).toBe('berth-second');
    expect((await requestOn(still, health)).status).toBe(200);
    expect((await requestOn(before, health)).status).toBe(200);
    still.destroy();
    before.destroy();
    await writeFile(live.certFile, await readFile(second.certFile));
  });

  test('unreadable or mismatched TLS files stop the start with a message naming them', async () => {
    const other = await pki.issue('berth-other');
    const cases: [string[], RegExp][] = [
      [['--tls-cert', join(pki.dir, 'missing.crt'), '--tls-key', first.keyFile], /--tls-cert \/ BERTH_TLS_CERT: cannot read .*missing\.crt: ENOENT/],
      [['--tls-cert', first.keyFile, '--tls-key', first.keyFile], /holds no PEM certificate/],
      [['--tls-cert', first.certFile, '--tls-key', other.keyFile], /are not a usable pair/],
      [['--tls-cert', first.certFile], /--tls-key \/ BERTH_TLS_KEY: needed too/],
    ];
    for (const [args, message] of cases) {
      const dataDir = await makeTempDir('tls-bad');
      const result = await run(process.execPath, [MAIN_JS, 'serve', '--data-dir', dataDir, '--api-listen', '127.0.0.1:0', '--registry-listen', '127.0.0.1:0', ...args], { cwd: REPO_ROOT, timeoutMs: 30_000 });
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(message);
    }
  });
});

async function waitForLog(server: TestServer, from: number, message: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!server.logs.slice(from).includes(message)) {
    if (Date.now() > deadline) throw new Error(`no "${message}" in the log:\n${server.logs.slice(from)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
