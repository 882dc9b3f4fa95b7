import pino from 'pino';
import pretty from 'pino-pretty';
import { redactText, redactValue } from './redact.js';

export type Logger = pino.Logger;
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error'];

export interface LoggerOptions {
  level?: LogLevel;
  format?: 'pretty' | 'json';
  /** Defaults to stderr: stdout is kept for results (`--json`, reports). */
  destination?: NodeJS.WritableStream;
}

/** Logs to stderr; pretty on a TTY, JSON lines otherwise; every line scrubbed of secrets. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const dest = opts.destination ?? process.stderr;
  const isTTY = Boolean((dest as NodeJS.WriteStream).isTTY);
  const format = opts.format ?? (isTTY ? 'pretty' : 'json');
  const options: pino.LoggerOptions = {
    level: opts.level ?? 'info',
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level: (label) => ({ level: label }),
      log: (obj) => redactValue(obj),
    },
    hooks: {
      logMethod(args, method) {
        const scrubbed = args.map((a) => (typeof a === 'string' ? redactText(a) : a)) as Parameters<typeof method>;
        return method.apply(this, scrubbed);
      },
    },
    serializers: {
      err: (err: Error) => ({ type: err?.name, message: redactText(err?.message ?? String(err)), stack: err?.stack ? redactText(err.stack) : undefined }),
    },
  };
  if (format === 'pretty') {
    const stream = pretty({
      destination: dest,
      colorize: isTTY,
      sync: true,
      translateTime: 'SYS:HH:MM:ss',
      ignore: 'pid,hostname',
    });
    return pino(options, stream);
  }
  return pino(options, dest === process.stderr ? pino.destination({ dest: 2, sync: true }) : (dest as pino.DestinationStream));
}

/** A logger that drops everything, for library callers and tests. */
export const silentLogger: Logger = pino({ level: 'silent' });
