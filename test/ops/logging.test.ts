/**
 * Logs a person can read, from the built package: JSON lines by default (stdout not a
 * terminal), one readable line per event with `--log-format pretty` or on a terminal
 * (`auto`, exercised through a pseudo-terminal made by script(1)), the request id kept.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, describe, expect, test } from 'vitest';
import { freePort } from '../support/postgres.js';
import { MAIN_JS, REPO_ROOT, startServer, type TestServer } from '../support/server.js';
import { makeTempDir } from '../support/tmp.js';
import { requireTools } from '../support/tools.js';
import { eventually } from './support.js';

const servers: TestServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
});

async function requestWithId(server: TestServer): Promise<string> {
  const id = `req-${randomBytes(6).toString('hex')}`;
  const res = await fetch(`${server.registryUrl}/v2/`, { headers: { 'x-request-id': id } });
  expect(res.headers.get('x-request-id')).toBe(id);
  await res.arrayBuffer();
  return id;
}

describe('log format', { timeout: 60_000 }, () => {
  test('JSON lines by default when stdout is not a terminal, with request_id', async () => {
    const server = await startServer({ args: ['--log-level', 'info'] });
    servers.push(server);
    const id = await requestWithId(server);
    const line = await eventually(async () => {
      const found = server.logs.split('\n').find((l) => l.includes(id));
      expect(found).toBeDefined();
      return found!;
    });
    const entry = JSON.parse(line) as { request_id: string; status: number; listener: string; msg: string };
    expect(entry).toMatchObject({ request_id: id, status: 401, listener: 'registry', msg: 'request' });
  });

  test('--log-format pretty: one readable line per event, request id first', async () => {
    const server = await startServer({ args: ['--log-level', 'info', '--log-format', 'pretty'] });
    servers.push(server);
    const id = await requestWithId(server);
    const line = await eventually(async () => {
      const found = server.logs.split('\n').find((l) => l.includes(id));
      expect(found).toBeDefined();
      return found!;
    });
    expect(line).not.toMatch(/^\{/);
    expect(line).toMatch(new RegExp(`^\\[\\d{2}:\\d{2}:\\d{2}\\.\\d{3}\\] INFO: \\[${id}\\] registry: request`));
    expect(line).toMatch(/registry: request GET \/v2\/ 401 \d+ms$/);
    // No colour codes when the output is not a terminal.
    expect(line).not.toContain('\u001b[');
  });
});

const noScript = requireTools(['script']);

describe.skipIf(noScript)('log format auto on a terminal', { timeout: 60_000 }, () => {
  test('is pretty and coloured', async () => {
    const port = await freePort();
    const dataDir = await makeTempDir('tty');
    const command = `exec ${process.execPath} ${MAIN_JS} serve --data-dir ${dataDir} --api-listen 127.0.0.1:${port} --registry-listen 127.0.0.1:${await freePort()} --log-level info`;
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('BERTH_')) env[k] = v;
    // script(1) gives the server a pseudo-terminal as stdout.
    const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    try {
      await eventually(async () => expect(output).toContain('berth is serving'), 30_000);
      const line = output.split('\n').find((l) => l.includes('berth is serving'))!;
      expect(line).not.toMatch(/^\s*\{/);
      expect(line).toContain('\u001b['); // coloured for a person
    } finally {
      // script(1) runs the server in a session of its own: stop the server itself, by its pid.
      const closed = new Promise((resolve) => child.once('close', resolve));
      const children = await readFile(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').catch(() => '');
      for (const pid of children.trim().split(/\s+/).filter(Boolean)) process.kill(Number(pid), 'SIGTERM');
      if (!children.trim()) child.kill('SIGTERM');
      await closed;
    }
  });
});
