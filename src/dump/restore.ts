import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { Readable, Transform, pipeline as pipeStreams } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { ParsedDsn } from '../config/dsn.js';
import { describeDsn } from '../config/dsn.js';
import { storageFromUrl } from '../storage/registry.js';
import type { Storage } from '../storage/types.js';
import { OnedumpError, PermanentError, UsageError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { redactText } from '../util/redact.js';
import { createSecretFile } from '../util/secret-file.js';
import { clientDefaults } from './mysqldump.js';
import { libpqEnv, pgpassLine } from './pgdump.js';
import { quoteIdent } from './mysql-native/sql-buffer.js';
import { AGE_MAGIC, decryptStreamFromFile } from '../crypto/age.js';
import { createZstdDecompress, zstdAvailable, zstdNeedsNode } from '../jobs/parallel-compress.js';
import { MAGIC_BYTES, compressionByMagic } from '../jobs/compression.js';

export interface RestoreOptions {
  /** A path or storage URL of the dump (plain, gzip or zstd). */
  from: string;
  /** The dump on a storage the caller opened (and closes); instead of `from`. */
  source?: { storage: Storage; key: string };
  /** Shown every chunk of the stored bytes as they are read (before decryption and decompression), e.g. to hash them. */
  onRaw?: (chunk: Buffer) => void;
  dsn: ParsedDsn;
  /** Restore into this database instead of the DSN's (or the dump's own). */
  targetDb?: string;
  /** mariadb/mysql, psql or pg_restore binary override. */
  clientPath?: string;
  log: Logger;
  signal: AbortSignal;
  onProgress?: (bytesRead: number, total?: number) => void;
  /** age identity file, for encrypted backups (`encrypt:` in the job). */
  identity?: string;
}

export interface RestorePlan {
  source: string;
  size?: number;
  compressed: boolean;
  /** gzip or zstd when compressed, found by the magic bytes. */
  compression?: 'gzip' | 'zstd';
  encrypted: boolean;
  format: 'sql' | 'pg-custom';
  client: string;
  database?: string;
  target: string;
}

export interface RestoreResult extends RestorePlan {
  bytesRead: number;
  durationMs: number;
}


const PG_MAGIC = Buffer.from('PGDMP');

/** Finds an executable on PATH (and PostgreSQL's versioned bin folders). */
export function findBinary(names: string[]): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/bin', '/usr/bin'];
  for (const name of names) {
    if (name.includes('/')) return name;
    for (const d of dirs) {
      if (!d) continue;
      try {
        accessSync(join(d, name), constants.X_OK);
        return join(d, name);
      } catch {
        /* next */
      }
    }
  }
  return undefined;
}

/** Reads at least the first `n` bytes (fewer at the end) and puts them back, so `src` still yields everything. */
async function peek(src: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const chunks: Buffer[] = [];
  let got = 0;
  const ended = await new Promise<boolean>((resolve, reject) => {
    const cleanup = () => {
      src.off('data', onData);
      src.off('end', onEnd);
      src.off('error', onErr);
    };
    const onData = (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= n) {
        src.pause();
        cleanup();
        resolve(false);
      }
    };
    const onEnd = () => {
      cleanup();
      resolve(true);
    };
    const onErr = (e: Error) => {
      cleanup();
      reject(e);
    };
    src.on('data', onData);
    src.once('end', onEnd);
    src.once('error', onErr);
    // An earlier peek paused the stream explicitly; a new 'data' listener alone would not restart it.
    src.resume();
  });
  const head = Buffer.concat(chunks);
  if (ended) return { head, stream: Readable.from(head.length ? [head] : []) };
  src.unshift(head);
  return { head, stream: src };
}

/**
 * For --target-db with MySQL: drops the dump's own `CREATE DATABASE` and `USE` lines so everything lands in the
 * client's default database. A dump that switches between several databases cannot be redirected and fails.
 */
export class UseRewriter extends Transform {
  private carry = '';
  private seen = new Set<string>();
  constructor() {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    const text = this.carry + chunk.toString('latin1');
    const cut = text.lastIndexOf('\n');
    if (cut < 0) {
      this.carry = text;
      return cb();
    }
    this.carry = text.slice(cut + 1);
    try {
      cb(null, Buffer.from(this.rewrite(text.slice(0, cut + 1)), 'latin1'));
    } catch (err) {
      cb(err as Error);
    }
  }
  override _flush(cb: (err?: Error | null, data?: Buffer) => void): void {
    try {
      cb(null, Buffer.from(this.rewrite(this.carry), 'latin1'));
    } catch (err) {
      cb(err as Error);
    }
  }
  private rewrite(block: string): string {
    // Fast path: INSERT lines are most of a dump and never start with these words.
    if (!/^(USE|CREATE DATABASE)\b/im.test(block)) return block;
    return block.replace(/^(USE\s+(`(?:[^`]|``)+`|\w+)\s*;|CREATE DATABASE\b[^\n]*;)[ \t]*$/gim, (line, _a, db: string | undefined) => {
      if (db) {
        this.seen.add(db);
        if (this.seen.size > 1) throw new UsageError('--target-db works only with a single-database dump, and this dump switches between databases (USE ' + [...this.seen].join(', USE ') + ').');
      }
      return `-- (onedump restore --target-db) ${line.split('\n')[0]!.slice(0, 120)}`;
    });
  }
}

function engineClient(dsn: ParsedDsn, format: RestorePlan['format'], override?: string): string {
  if (override) return override;
  const names = dsn.engine === 'mysql' ? ['mariadb', 'mysql'] : format === 'pg-custom' ? ['pg_restore'] : ['psql'];
  const found = findBinary(names);
  if (!found) throw new PermanentError(`${names.join(' or ')} was not found on PATH; install the database client or pass --client PATH.`);
  return found;
}

/** Opens the source, detects age, gzip, zstd and pg_dump custom format, and says what would be done. */
export async function planRestore(o: RestoreOptions): Promise<{ plan: RestorePlan; open: () => Promise<{ stream: Readable; counted: () => number }>; close: () => Promise<void> }> {
  const { storage, key } = o.source ?? storageFromUrl(o.from, { log: o.log });
  if (!key) throw new UsageError(`--from ${o.from} names a folder; give the dump file.`);
  const info = await storage.stat(key);
  if (!info) throw new PermanentError(`the dump ${storage.describe(key)} does not exist.`);
  const raw = await storage.get(key, { signal: o.signal });
  let read = 0;
  const counter = new Transform({
    transform(c: Buffer, _e, cb) {
      read += c.length;
      o.onRaw?.(c);
      o.onProgress?.(read, info.size);
      cb(null, c);
    },
  });
  raw.on('error', (e) => counter.destroy(e));
  raw.pipe(counter);
  // Layers are detected by content, outermost first: age encryption, then gzip or zstd, then pg_dump's archive format.
  const outer = await peek(counter, AGE_MAGIC.length);
  const encrypted = outer.head.subarray(0, AGE_MAGIC.length).toString('latin1') === AGE_MAGIC;
  let layered: Readable = outer.stream;
  if (encrypted) {
    if (!o.identity) throw new UsageError(`${storage.describe(key)} is an encrypted (age) backup: pass --identity FILE with the key it was encrypted to.`);
    const decrypt = await decryptStreamFromFile(o.identity);
    layered.on('error', (e) => decrypt.destroy(e));
    layered = layered.pipe(decrypt);
  } else if (o.identity) {
    o.log.warn(`${storage.describe(key)} is not encrypted; --identity is not needed`);
  }
  const first = await peek(layered, MAGIC_BYTES);
  const compression = compressionByMagic(first.head);
  if (compression === 'zstd' && !zstdAvailable()) throw new UsageError(`${storage.describe(key)} is zstd-compressed, and decompressing it here is not possible: ${zstdNeedsNode()}.`);
  let stream: Readable = first.stream;
  if (compression) {
    const decompress = compression === 'zstd' ? createZstdDecompress() : createGunzip();
    stream.on('error', (e) => decompress.destroy(e));
    stream = stream.pipe(decompress);
  }
  const second = await peek(stream, 5);
  // Until the client reads the stream, nobody listens on it: a gzip, zstd or age error found early (a truncated or corrupt
  // file) would be an unhandled 'error'. Keep it; the pipeline into the client reports it (see corrupted()).
  second.stream.on('error', () => undefined);
  const format: RestorePlan['format'] = second.head.subarray(0, 5).equals(PG_MAGIC) ? 'pg-custom' : 'sql';
  if (format === 'pg-custom' && o.dsn.engine !== 'postgres') throw new UsageError('the dump is a pg_dump custom-format archive; restore it with a postgres:// DSN.');
  const database = o.targetDb ?? o.dsn.database;
  const client = engineClient(o.dsn, format, o.clientPath);
  return {
    plan: {
      source: storage.describe(key),
      size: info.size,
      compressed: compression !== undefined,
      ...(compression ? { compression } : {}),
      encrypted,
      format,
      client,
      database,
      target: describeDsn({ ...o.dsn, database }),
    },
    open: async () => ({ stream: second.stream, counted: () => read }),
    close: async () => {
      second.stream.destroy();
      raw.destroy();
      if (!o.source) await storage.close?.();
    },
  };
}

interface ClientRun {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}

async function runClient(run: ClientRun, input: Readable | undefined, signal: AbortSignal, label: string): Promise<void> {
  const child = spawn(run.command, run.args, { env: run.env ?? process.env, stdio: [input ? 'pipe' : 'ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    if (stderr.length < 16384) stderr += s;
  });
  const onAbort = () => child.kill('SIGTERM');
  signal.addEventListener('abort', onAbort, { once: true });
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'ENOENT' ? new PermanentError(`${label} was not found at "${run.command}"; install it or pass --client PATH.`) : err),
    );
    child.once('close', (code, sig) => {
      if (signal.aborted) return reject(signal.reason);
      if (code === 0) return resolve();
      // The client may echo the failing statement (megabytes of one INSERT): keep each line's ends only.
      const clip = (l: string) => (l.length > 300 ? `${l.slice(0, 160)} … ${l.slice(-100)}` : l);
      const detail = redactText(stderr.trim().split('\n').slice(-5).map(clip).join(' ').trim());
      reject(new OnedumpError(`${label} exited with ${code === null ? `signal ${sig}` : `code ${code}`}${detail ? `: ${detail}` : ''}`));
    });
  });
  try {
    if (input) {
      const feeding = pipeline(input, child.stdin!).catch((err: NodeJS.ErrnoException) => {
        // EPIPE means the client stopped reading (it failed); its exit status explains why.
        if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_PREMATURE_CLOSE') {
          child.kill('SIGTERM');
          throw err;
        }
      });
      await Promise.all([feeding, exited]);
    } else await exited;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** Streams a dump into the database; credentials go through a 0600 file removed afterwards. */
export async function restoreDump(o: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  const p = await planRestore(o);
  const { plan } = p;
  try {
    const { stream, counted } = await p.open();
    if (o.dsn.engine === 'mysql') {
      const cred = createSecretFile('my.cnf', clientDefaults(o.dsn));
      try {
        // --comments: the client strips comments by default, which would change stored-program bodies.
        // --max-allowed-packet: the client's own limit (16 MB by default) would refuse a statement holding a
        // bigger value; the largest there is leaves the server's max_allowed_packet as the only limit.
        const base = [`--defaults-extra-file=${cred.path}`, '--default-character-set=utf8mb4', '--comments', '--max-allowed-packet=1073741824'];
        let input: Readable = stream;
        // The named database may not exist yet (a fresh server, or --target-db): create it first.
        if (plan.database) await runClient({ command: plan.client, args: [...base, '-e', `CREATE DATABASE IF NOT EXISTS ${quoteIdent(plan.database)}`] }, undefined, o.signal, 'the mysql client');
        if (o.targetDb) {
          // stream.pipeline, not pipe(): an error the source already had (a truncated gzip) reaches the rewriter too.
          const rw = new UseRewriter();
          input = pipeStreams(stream, rw, () => undefined);
        }
        await runClient({ command: plan.client, args: [...base, ...(plan.database ? [plan.database] : [])] }, input, o.signal, 'the mysql client');
      } finally {
        cred.remove();
      }
    } else {
      const pass = o.dsn.password !== undefined ? createSecretFile('pgpass', pgpassLine(o.dsn)) : undefined;
      try {
        const env = libpqEnv({ ...o.dsn, database: plan.database }, pass?.path);
        if (o.targetDb) {
          const psql = findBinary(['psql']) ?? 'psql';
          // CREATE DATABASE cannot run in a transaction block or take IF NOT EXISTS: check first.
          const exists = await pgDatabaseExists(psql, { ...env, PGDATABASE: 'postgres' }, o.targetDb, o.signal);
          if (!exists) await runClient({ command: psql, args: ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', `CREATE DATABASE "${o.targetDb.replace(/"/g, '""')}"`], env: { ...env, PGDATABASE: 'postgres' } }, undefined, o.signal, 'psql');
        }
        const args =
          plan.format === 'pg-custom'
            ? ['--no-owner', '--exit-on-error', '-d', plan.database ?? 'postgres']
            : ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '--single-transaction'];
        await runClient({ command: plan.client, args, env }, stream, o.signal, plan.format === 'pg-custom' ? 'pg_restore' : 'psql');
      } finally {
        pass?.remove();
      }
    }
    return { ...plan, bytesRead: counted(), durationMs: Date.now() - started };
  } catch (err) {
    throw corrupted(err, plan);
  } finally {
    await p.close();
  }
}

/** A zlib (gzip, zstd) or age failure while streaming becomes one sentence that says the target may hold part of the dump. */
function corrupted(err: unknown, plan: RestorePlan): unknown {
  const code = (err as { code?: unknown })?.code;
  const msg = (err as Error)?.message ?? String(err);
  const partial = 'the target may hold part of the dump: drop it before loading a good copy';
  // zlib's codes: Z_BUF_ERROR (cut short), Z_DATA_ERROR; zstd's: ZSTD_error_corruption_detected, ZSTD_error_checksum_wrong, …
  if (typeof code === 'string' && (code.startsWith('Z_') || code.startsWith('ZSTD_error_'))) {
    return new OnedumpError(`${plan.source}: its ${plan.compression ?? 'compressed'} data is cut short or corrupt (${msg}); ${partial}.`, { cause: err });
  }
  if (plan.encrypted && err instanceof Error && !(err instanceof OnedumpError) && /age|decrypt|chunk|stanza|header|tag/i.test(msg)) {
    return new OnedumpError(`${plan.source}: its age encryption could not be read to the end (${msg}); ${partial}.`, { cause: err });
  }
  return err;
}

async function pgDatabaseExists(psql: string, env: NodeJS.ProcessEnv, name: string, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const child = spawn(psql, ['-X', '-tA', '-c', `SELECT 1 FROM pg_database WHERE datname = '${name.replace(/'/g, "''")}'`], { env, stdio: ['ignore', 'pipe', 'pipe'], signal });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out.trim() === '1') : reject(new OnedumpError(`psql could not list databases: ${redactText(err.trim())}`))));
  });
}
