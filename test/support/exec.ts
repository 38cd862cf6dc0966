/** Running external tools (skopeo, podman, umoci, …) from tests, with their output kept. */
import { spawn } from 'node:child_process';

export interface RunResult {
  command: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  input?: string;
  timeoutMs?: number;
}

/** Shell-ish rendering of a command line, for error messages. */
export function renderCommand(command: string, args: readonly string[]): string {
  return [command, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`)).join(' ');
}

/** Runs a command to completion; never throws for a non-zero exit (inspect `code`). */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const rendered = renderCommand(command, args);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    const timeoutMs = options.timeoutMs ?? 60_000;
    const timer = setTimeout(() => {
      stderr.push(Buffer.from(`\n[test harness] killed after ${timeoutMs} ms\n`));
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`${rendered}: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        command: rendered,
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      });
    });
    if (child.stdin) {
      child.stdin.on('error', () => {
        // The command may exit without reading its input; its exit status tells the story.
      });
      child.stdin.end(options.input);
    }
  });
}

/** Describes a finished command with its output, for assertion and error messages. */
export function describeResult(result: RunResult): string {
  const status = result.signal ? `signal ${result.signal}` : `exit ${result.code}`;
  return `$ ${result.command}\n(${status})\n--- stdout\n${result.stdout}--- stderr\n${result.stderr}`;
}

/** Runs a command and throws, with its whole output, unless it exits 0. */
export async function runOk(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const result = await run(command, args, options);
  if (result.code !== 0) throw new Error(`command failed:\n${describeResult(result)}`);
  return result;
}
