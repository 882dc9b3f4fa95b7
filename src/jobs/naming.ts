import { SUFFIX, compressionOf, type Compression, type CompressionKeys } from './compression.js';

/** Splits a storage key into its folder part (with trailing slash, or '') and its file name. */
export function splitKey(key: string): { dir: string; base: string } {
  const i = key.lastIndexOf('/');
  return i < 0 ? { dir: '', base: key } : { dir: key.slice(0, i + 1), base: key.slice(i + 1) };
}

/** UTC YYYYMMDDHHMMSS, the Go tool's unique prefix. */
export function timestampPrefix(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

export interface NamingOptions {
  /** The Go tool's switch; `compression` wins when set. */
  gzip?: boolean;
  compression?: Compression;
  unique: boolean;
  /** The backup is age-encrypted: `.age` goes last, after `.gz` or `.zst`. */
  encrypt?: boolean;
}

/**
 * The file name a job writes, as the Go tool names it: `.gz` added when gzip and missing; unique → timestamp prefix.
 * zstd (not in the Go tool) adds `.zst` the same way. Encrypted backups (not in the Go tool) end in `.age`, after
 * `.gz`/`.zst`: a configured `app.sql.age` is taken as `app.sql`.
 */
export function backupFileName(base: string, opts: NamingOptions & { now: Date }): string {
  let name = opts.encrypt && base.endsWith('.age') && base.length > 4 ? base.slice(0, -4) : base;
  const suffix = SUFFIX[opts.compression ?? (opts.gzip ? 'gzip' : 'none')];
  if (suffix && !name.endsWith(suffix)) name += suffix;
  if (opts.encrypt) name += '.age';
  if (opts.unique) name = `${timestampPrefix(opts.now)}-${name}`;
  return name;
}

export function backupKey(key: string, opts: NamingOptions & { now: Date }): string {
  const { dir, base } = splitKey(key);
  return dir + backupFileName(base, opts);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Matches exactly the names this job writes in a folder (with unique: `YYYYMMDDHHMMSS-<name>`). */
export function retentionPattern(base: string, opts: NamingOptions): RegExp {
  const name = backupFileName(base, { ...opts, unique: false, now: new Date(0) });
  return opts.unique ? new RegExp(`^\\d{14}-${escapeRe(name)}$`) : new RegExp(`^${escapeRe(name)}$`);
}

/** Where a job's backups are at a destination and which names there are its own: what retention, ls, verify and status count. */
export function jobBackupsIn(configuredKey: string, job: NamedJob): { dir: string; accept: (name: string) => boolean } {
  const { dir, base } = splitKey(configuredKey);
  const pattern = retentionPattern(base, namingOf(job));
  return { dir, accept: (name) => pattern.test(name) };
}

type NamedJob = CompressionKeys & { unique: boolean; encrypt?: { recipients: string[] } };

/** The naming options of a job's config. */
export function namingOf(job: NamedJob): NamingOptions {
  return { compression: compressionOf(job).algorithm, unique: job.unique, encrypt: Boolean(job.encrypt?.recipients.length) };
}
