import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { Config } from './config/index.js';

/**
 * The process logger. JSON lines for machines by default; for people (`--log-format pretty`,
 * or `auto` on a terminal) one coloured line per event with the request id up front.
 */
export function createLogger(config: Pick<Config, 'logLevel' | 'logFormat'>, stdoutIsTty = process.stdout.isTTY === true): Logger {
  const options = { level: config.logLevel, base: { service: 'berth' } };
  const format = config.logFormat === 'auto' ? (stdoutIsTty ? 'pretty' : 'json') : config.logFormat;
  if (format === 'json') return pino(options);
  return pino(options, prettyStream(stdoutIsTty));
}

/** A synchronous pino-pretty stream on stdout (no worker thread, so it works from any install). */
export function prettyStream(colorize: boolean, destination: NodeJS.WritableStream | number = 1) {
  return pretty({
    colorize,
    sync: true,
    destination,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service,request_id,listener,method,url,status,ms',
    // The request id leads the line so a person can follow one request through the log; the
    // request line reads like an access log. Other fields follow as compact JSON.
    messageFormat: '{if request_id}[{request_id}] {end}{if listener}{listener}: {end}{msg}{if method} {method} {url} {status} {ms}ms{end}',
    singleLine: true,
  });
}
