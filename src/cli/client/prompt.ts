/**
 * Questions on the terminal: doctl's confirmation (`Are you sure you want to … (y/N) ? `) and
 * the token prompt, whose answer is not echoed. On a terminal the keys are read in raw mode
 * (Enter, Backspace, Ctrl-C, Ctrl-D); from a pipe, one line is read.
 */
import { CliError } from './errors.js';
import type { ClientIo, Input } from './io.js';

const readers = new WeakMap<Input, LineReader>();

/** Reads answers one at a time from stdin, keeping whatever arrived beyond the first line. */
class LineReader {
  private buffer = '';
  private ended = false;

  constructor(private readonly input: Input) {
    input.once('end', () => {
      this.ended = true;
    });
  }

  static of(input: Input): LineReader {
    let reader = readers.get(input);
    if (!reader) {
      reader = new LineReader(input);
      readers.set(input, reader);
    }
    return reader;
  }

  /** Next chunk of input as text, or undefined at end of input. */
  private next(): Promise<string | undefined> {
    if (this.ended) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      const onData = (chunk: Buffer | string) => finish(typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
      const onEnd = () => finish(undefined);
      const onError = (err: Error) => {
        cleanup();
        reject(err);
      };
      const cleanup = () => {
        this.input.off('data', onData);
        this.input.off('end', onEnd);
        this.input.off('error', onError);
        this.input.pause();
      };
      const finish = (text: string | undefined) => {
        cleanup();
        resolve(text);
      };
      this.input.on('data', onData);
      this.input.once('end', onEnd);
      this.input.once('error', onError);
      this.input.resume();
    });
  }

  /** One line from a pipe (without its line ending); undefined when input ended first. */
  async line(): Promise<string | undefined> {
    for (;;) {
      const newline = this.buffer.indexOf('\n');
      if (newline >= 0) {
        const line = this.buffer.slice(0, newline).replace(/\r$/, '');
        this.buffer = this.buffer.slice(newline + 1);
        return line;
      }
      const chunk = await this.next();
      if (chunk === undefined) {
        if (this.buffer === '') return undefined;
        const rest = this.buffer;
        this.buffer = '';
        return rest;
      }
      this.buffer += chunk;
    }
  }

  /**
   * One line typed on a terminal in raw mode. `mask` replaces each echoed character (hidden
   * input); Ctrl-C cancels, Ctrl-D on an empty line ends input.
   */
  async keys(echo: (text: string) => void, mask: string | undefined): Promise<string | undefined> {
    this.input.setRawMode?.(true);
    let answer = '';
    try {
      for (;;) {
        if (this.buffer === '') {
          const chunk = await this.next();
          if (chunk === undefined) return answer === '' ? undefined : answer;
          this.buffer = chunk;
        }
        const chars = [...this.buffer];
        this.buffer = '';
        for (let i = 0; i < chars.length; i++) {
          const ch = chars[i]!;
          if (ch === '\r' || ch === '\n') {
            this.buffer = chars.slice(i + 1).join('').replace(/^\n/, '');
            echo('\r\n');
            return answer;
          }
          if (ch === '\u0003') {
            echo('^C\r\n');
            throw new CliError('canceled');
          }
          if (ch === '\u0004') {
            if (answer === '') {
              echo('\r\n');
              return undefined;
            }
            continue;
          }
          if (ch === '\u007f' || ch === '\b') {
            if (answer !== '') {
              answer = [...answer].slice(0, -1).join('');
              echo('\b \b');
            }
            continue;
          }
          if (ch === '\u001b') {
            // An escape sequence (arrow keys…): skip it.
            while (i + 1 < chars.length && /[[\dO;]/.test(chars[i + 1]!)) i++;
            if (i + 1 < chars.length) i++;
            continue;
          }
          if (ch < ' ') continue;
          answer += ch;
          echo(mask ?? ch);
        }
      }
    } finally {
      this.input.setRawMode?.(false);
    }
  }
}

/** Asks a question on stderr and reads the answer; `hidden` masks what is typed. */
export async function ask(io: ClientIo, question: string, options: { hidden?: boolean } = {}): Promise<string | undefined> {
  io.stderr.write(question);
  const reader = LineReader.of(io.stdin);
  if (io.stdin.isTTY && io.stdin.setRawMode) {
    return reader.keys((text) => io.stderr.write(text), options.hidden ? '*' : undefined);
  }
  // From a pipe nothing is echoed: end the question's line ourselves.
  const answer = await reader.line();
  io.stderr.write('\n');
  return answer;
}

/** doctl's AskForConfirm: true only for y, ye or yes (any case). */
export async function confirm(io: ClientIo, message: string): Promise<boolean> {
  const answer = await ask(io, `Warning: Are you sure you want to ${message} (y/N) ? `);
  return ['y', 'ye', 'yes'].includes((answer ?? '').trim().toLowerCase());
}
