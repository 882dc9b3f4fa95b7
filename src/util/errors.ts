import { redactText } from './redact.js';

/**
 * The process exit codes, stable and documented (docs/schedulers.md), in the style of restic and rclone, so that a
 * scheduler can tell what is worth retrying.
 */
export const EXIT = {
  /** Every job (and every destination) succeeded. */
  ok: 0,
  /** A job, transfer or check failed (with nothing of it stored anywhere, for a dump job). */
  failed: 1,
  /** Bad usage or an invalid config: nothing was run. */
  usage: 2,
  /** Partly done: some jobs or destinations succeeded and others failed. */
  partial: 3,
  /** Skipped: another run of the job holds its lock (nothing was done; try again later). */
  locked: 11,
  /** Aborted by SIGINT or SIGTERM (128 + SIGINT's number, as a shell reports it). */
  interrupted: 130,
} as const;

/** An error whose message is already one clear sentence for the user. */
export class OnedumpError extends Error {
  /** 1 = a job, transfer or check failed; 2 = bad usage or invalid config (nothing was run). */
  readonly exitCode: 1 | 2;
  constructor(message: string, opts: { exitCode?: 1 | 2; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.exitCode = opts.exitCode ?? 1;
  }
}

/** Bad flags or arguments: exit 2, nothing was run. */
export class UsageError extends OnedumpError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, { ...opts, exitCode: 2 });
  }
}

/** An invalid configuration; `problems` lists every problem with its path. Exit 2, nothing was run. */
export class ConfigError extends OnedumpError {
  readonly problems: string[];
  readonly file?: string;
  /** `total`: how many problems there are when `problems` lists only the first ones. */
  constructor(problems: string[], file?: string, total = problems.length) {
    const where = file ? `${file}: ` : '';
    const first = total > problems.length ? ` (the first ${problems.length})` : '';
    const head =
      total === 1
        ? `${where}${problems[0]}`
        : `${where}${total} problems in the configuration${first}:\n${problems.map((p) => `  - ${p}`).join('\n')}`;
    super(head, { exitCode: 2 });
    this.problems = problems;
    this.file = file;
  }
}

/** A fault that will not go away by retrying (bad credentials, not found, bad SQL). */
export class PermanentError extends OnedumpError {
  readonly permanent = true;
}

/** A fault worth retrying (connection dropped, throttled, 5xx). */
export class TransientError extends OnedumpError {
  readonly transient = true;
}

const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_SERVER_SHUTDOWN',
  'ER_CON_COUNT_ERROR',
  'ER_LOCK_DEADLOCK',
  'ER_LOCK_WAIT_TIMEOUT',
  'CR_SERVER_GONE_ERROR',
  'CR_SERVER_LOST',
  '57P01', // PostgreSQL admin_shutdown
  '57P03', // cannot_connect_now (starting up)
  '53300', // too_many_connections
  '08006', // connection_failure
  '08001', // unable to establish
  'ERR_STREAM_PREMATURE_CLOSE',
  'RequestTimeout',
  'RequestTimeoutException',
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'InternalError',
  'ServiceUnavailable',
]);

/**
 * Faults no retry can fix, checked before the transient patterns: a dump tool's stderr often mentions the connection
 * too ("connection to server ... failed: FATAL: password authentication failed").
 */
const PERMANENT_MESSAGES = [
  /access denied/i,
  /password authentication failed/i,
  /authentication failed/i,
  /no pg_hba\.conf entry/i,
  /unknown database/i,
  /database "[^"]*" does not exist/i,
  /role "[^"]*" does not exist/i,
  /permission denied/i,
  /Got error: 10(44|45|49)\b/i, // ER_DBACCESS_DENIED, ER_ACCESS_DENIED, ER_BAD_DB
  /unknown (variable|option)/i,
  /SSL connection is required|certificate verify failed/i,
];

/** Transient faults as clients and dump tools word them (mysqldump / mariadb-dump / pg_dump stderr included). */
const TRANSIENT_MESSAGES = [
  /server has gone away/i,
  /lost connection to (mysql |mariadb )?server/i,
  /connection (was )?(reset|refused|closed|terminated|timed out)/i,
  /socket hang up/i,
  /timed? ?out/i,
  /Can't connect to (local )?(MySQL |MariaDB )?server/i, // MySQL: "Can't connect to MySQL server"; MariaDB: "Can't connect to server"
  /Got error: 20(02|03|05|06|13)\b/i, // CR_CONNECTION_ERROR, CR_CONN_HOST_ERROR, CR_UNKNOWN_HOST, CR_SERVER_GONE_ERROR, CR_SERVER_LOST
  /Unknown (MySQL )?server host/i, // DNS
  /could not translate host name/i, // pg DNS
  /Temporary failure in name resolution/i,
  /server closed the connection unexpectedly/i,
  /the database system is (starting up|shutting down|in recovery mode)/i,
  /too many connections/i,
  /No response from server/i,
  /Connection lost/i,
  /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)\b/,
  /\b(HTTP|status(code)?)[ :]*(429|5\d\d)\b/i,
];

function statusOf(err: Record<string, unknown>): number | undefined {
  const meta = err.$metadata as { httpStatusCode?: number } | undefined;
  const response = err.response as { status?: number; statusCode?: number } | undefined;
  const candidates = [err.status, err.statusCode, meta?.httpStatusCode, response?.status, response?.statusCode, err.code];
  for (const c of candidates) if (typeof c === 'number' && c >= 100 && c < 600) return c;
  return undefined;
}

/** Whether retrying could help. Unknown errors are permanent: retrying a bug only hides it. */
export function isTransient(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as Record<string, unknown>;
  if (e.permanent === true) return false;
  if (e.transient === true) return true;
  if (e.name === 'AbortError') return false;
  const status = statusOf(e);
  if (status !== undefined) return status === 408 || status === 429 || status >= 500;
  for (const key of ['code', 'errno', 'name', 'Code']) {
    const v = e[key];
    if (typeof v === 'string' && TRANSIENT_CODES.has(v)) return true;
  }
  if (typeof e.errno === 'number' && [1044, 1045, 1049].includes(e.errno)) return false;
  if (typeof e.errno === 'number' && [2002, 2003, 2005, 2006, 2013, 1040, 1205, 1213].includes(e.errno)) return true;
  const msg = typeof e.message === 'string' ? e.message : '';
  if (PERMANENT_MESSAGES.some((re) => re.test(msg))) return false;
  if (TRANSIENT_MESSAGES.some((re) => re.test(msg))) return true;
  if (e.cause && e.cause !== err) return isTransient(e.cause);
  // @slack/webhook wraps network failures as IncomingWebhookRequestError { original }.
  if (e.original && e.original !== err) return isTransient(e.original);
  if (Array.isArray(e.errors)) return e.errors.some((x) => isTransient(x)); // AggregateError from net.connect
  return false;
}

/** The user-facing sentence for any error, with secrets scrubbed. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    let msg = err.message || err.name;
    if (!msg && err instanceof AggregateError) msg = err.errors.map((e) => errorMessage(e)).join('; ');
    if ((!msg || msg === 'AggregateError') && 'errors' in err && Array.isArray((err as AggregateError).errors)) {
      msg = (err as AggregateError).errors.map((e) => errorMessage(e)).join('; ');
    }
    return redactText(msg);
  }
  return redactText(String(err));
}

export function exitCodeOf(err: unknown): 1 | 2 {
  return err instanceof OnedumpError ? err.exitCode : 1;
}
