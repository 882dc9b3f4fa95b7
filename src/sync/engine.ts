import { createReadStream } from 'node:fs';
import { stat, unlink } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { createHash } from 'node:crypto';
import type { Storage, ObjectInfo } from '../storage/types.js';
import type { Logger } from '../util/logger.js';
import { retry, DEFAULT_RETRY } from '../util/retry.js';
import { mapSettled } from '../util/concurrency.js';
import { errorMessage, isTransient, OnedumpError, TransientError } from '../util/errors.js';
import { ChecksumState } from './state.js';
import { hashFile, type SourceFile } from './source.js';
import type { FileMode } from '../storage/mode.js';

/** One file of a sync and what the plan decided for it. */
export interface PlannedFile extends SourceFile {
  /** Destination key in the storage. */
  key: string;
  action: 'send' | 'skip';
  /** Why, in a few words (for --dry-run and -v). */
  reason: string;
  /** sha256 of the first `size` bytes, when the plan hashed it (--checksum). */
  sha256?: string;
}

export interface SyncEvents {
  onPlan?(files: PlannedFile[]): void;
  onStart?(f: PlannedFile): void;
  onProgress?(f: PlannedFile, bytes: number): void;
  onDone?(f: PlannedFile, r: SentFile): void;
  onFail?(f: PlannedFile, error: string): void;
  onRetry?(f: PlannedFile, error: string, attempt: number, delayMs: number): void;
}

export interface SyncOptions {
  storage: Storage;
  /** Files with their destination keys. */
  files: Array<SourceFile & { key: string }>;
  /** Skip files whose sha256 is in the state file, and record each file sent (the Go tool's --checksum). */
  checksum: boolean;
  /** The state file; without `checksum` it is removed, as in the Go tool. */
  stateFile: string;
  /** Files in flight (default 10, as the Go tool). */
  parallel?: number;
  /** Tries per file, including the first; Infinity = until it works (the Go tool's default). */
  maxAttempts?: number;
  /** Continue a partial upload the backend kept (the Go tool's --append). */
  resume?: boolean;
  /** Remove each source file once its copy is verified (and recorded). */
  deleteSourceAfter?: boolean;
  /** Plan only. */
  dryRun?: boolean;
  /**
   * Append-only files (binlogs): a file that grows while being read is sent up to the size seen when the run
   * started, and that prefix is recorded. Otherwise a file that changes while being read is sent again.
   */
  growing?: boolean;
  /** Upper bound of bytes to send per absolute path (e.g. binlog sizes from SHOW BINARY LOGS). */
  limits?: Map<string, number>;
  /**
   * Permission bits of the files written at a local or SFTP destination (`--mode`). Default 'umask': 0666 less the
   * umask (for SFTP the server's), as the Go tool, unless the destination's config entry has a `mode:`.
   */
  mode?: FileMode;
  log?: Logger;
  signal?: AbortSignal;
  events?: SyncEvents;
}

export interface SentFile {
  path: string;
  key: string;
  size: number;
  /** sha256 of the bytes sent, when known (always with --checksum). */
  sha256?: string;
  location: string;
  attempts: number;
}

export interface SyncResult {
  planned: PlannedFile[];
  sent: SentFile[];
  skipped: PlannedFile[];
  failed: Array<{ path: string; key: string; error: string }>;
  bytes: number;
  durationMs: number;
  stateFile?: string;
}

/** A file that changed while it was read: its bytes may mix two versions, so it is sent again. */
export class FileChangedError extends TransientError {}

const CHANGE_RESENDS = 3;

/** Decides which files to send and why. Reads (hashes) local files only; asks the destination only with --checksum. */
export async function planSync(opts: SyncOptions, state?: ChecksumState): Promise<PlannedFile[]> {
  const files = opts.files.map((f) => {
    const limit = opts.limits?.get(f.path);
    return { ...f, size: limit !== undefined ? Math.min(limit, f.size) : f.size };
  });
  if (!opts.checksum || !state) {
    return files.map((f) => ({ ...f, action: 'send' as const, reason: opts.checksum ? 'not sent before' : 'no --checksum: every file is sent' }));
  }
  const hashed = await mapSettled(files, 4, (f) => hashFile(f.path, f.size));
  const out: PlannedFile[] = [];
  const needDest: PlannedFile[] = [];
  files.forEach((f, i) => {
    const r = hashed[i]!;
    if (r.status === 'rejected') {
      out.push({ ...f, action: 'send', reason: `cannot read: ${errorMessage(r.reason)}` });
      return;
    }
    const p: PlannedFile = { ...f, sha256: r.value, action: 'send', reason: 'new or changed (sha256 not in the state file)' };
    if (state.has(r.value)) needDest.push(p);
    out.push(p);
  });
  // The state records contents, not names (the Go format), so a recorded hash is trusted only if the destination
  // still has an object of that size under this file's key (two files with equal contents, or a deleted copy).
  if (needDest.length) {
    const present = await destinationSizes(opts.storage, needDest.map((p) => p.key));
    for (const p of needDest) {
      if (present.get(p.key) === p.size) {
        p.action = 'skip';
        p.reason = 'already transferred (sha256 in the state file)';
      } else {
        p.reason = 'in the state file but missing or different at the destination';
      }
    }
  }
  return out;
}

/** Sizes of the given keys at the destination: one listing of their common folder, or stats when there are few. */
async function destinationSizes(storage: Storage, keys: string[]): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  if (keys.length <= 8) {
    const r = await mapSettled(keys, 8, (k) => storage.stat(k));
    r.forEach((x, i) => {
      if (x.status === 'fulfilled' && x.value) sizes.set(keys[i]!, x.value.size);
    });
    return sizes;
  }
  let prefix = keys[0]!;
  for (const k of keys) while (!k.startsWith(prefix)) prefix = prefix.slice(0, -1);
  prefix = prefix.slice(0, prefix.lastIndexOf('/') + 1);
  const wanted = new Set(keys);
  for await (const o of storage.list(prefix) as AsyncIterable<ObjectInfo>) if (wanted.has(o.key)) sizes.set(o.key, o.size);
  return sizes;
}

/** Runs a sync: plan, then send the files that need it, in parallel, each verified before it is recorded. */
export async function runSync(opts: SyncOptions): Promise<SyncResult> {
  const started = Date.now();
  let state: ChecksumState | undefined;
  if (opts.checksum) state = await ChecksumState.load(opts.stateFile);
  else if (!opts.dryRun) await ChecksumState.remove(opts.stateFile);
  const planned = await planSync(opts, state);
  opts.events?.onPlan?.(planned);
  const result: SyncResult = {
    planned,
    sent: [],
    skipped: planned.filter((p) => p.action === 'skip'),
    failed: [],
    bytes: 0,
    durationMs: 0,
    stateFile: opts.checksum ? opts.stateFile : undefined,
  };
  if (opts.dryRun) {
    result.durationMs = Date.now() - started;
    return result;
  }
  const toSend = planned.filter((p) => p.action === 'send');
  const settled = await mapSettled(toSend, opts.parallel ?? 10, (f) => sendOne(f, opts, state));
  settled.forEach((r, i) => {
    const f = toSend[i]!;
    if (r.status === 'fulfilled') {
      result.sent.push(r.value);
      result.bytes += r.value.size;
    } else {
      const error = errorMessage(r.reason);
      result.failed.push({ path: f.path, key: f.key, error });
      opts.events?.onFail?.(f, error);
    }
  });
  result.durationMs = Date.now() - started;
  return result;
}

async function sendOne(f: PlannedFile, opts: SyncOptions, state: ChecksumState | undefined): Promise<SentFile> {
  const { storage } = opts;
  opts.events?.onStart?.(f);
  let changes = 0;
  const sent = await retry(
    async (attempt) => {
      const before = await stat(f.path).catch((err: NodeJS.ErrnoException) => {
        throw new OnedumpError(`cannot read ${f.path}: ${err.code === 'ENOENT' ? 'it was removed during the sync' : err.message}.`);
      });
      // Growing files are sent up to the size seen when the run started; others as they are now.
      const limit = opts.growing ? Math.min(f.size, before.size) : Math.min(before.size, opts.limits?.get(f.path) ?? Infinity);
      // The plan's hash still holds if the file is as the plan saw it (or only grew, for append-only files);
      // otherwise hash while sending, when a hash is needed at all (the state file).
      const planHashHolds =
        f.sha256 !== undefined && limit === f.size && (opts.growing ? before.size >= f.size : before.mtimeMs === f.mtimeMs && before.size === f.size);
      const hash = opts.checksum && !planHashHolds ? createHash('sha256') : undefined;
      let read = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          hash?.update(chunk);
          read += chunk.length;
          cb(null, chunk);
        },
      });
      const body: Readable =
        limit === 0 ? Readable.from([]) : createReadStream(f.path, { start: 0, end: limit - 1, highWaterMark: 1024 * 1024 });
      body.on('error', (e) => counter.destroy(e));
      body.pipe(counter);
      const stored = await storage.put(f.key, counter, {
        size: limit,
        signal: opts.signal,
        resume: opts.resume,
        mode: opts.mode ?? 'umask',
        onProgress: (n) => opts.events?.onProgress?.(f, n),
      });
      const digest = hash ? hash.digest('hex') : planHashHolds ? f.sha256 : undefined;
      if (read !== limit) throw new FileChangedError(`${f.path} was truncated while being read (${read} of ${limit} bytes).`);
      // Verification: the destination must report what we sent.
      if (stored.size !== limit) {
        throw new OnedumpError(`${storage.describe(f.key)} holds ${stored.size} bytes after the upload of ${f.path}, expected ${limit}; the copy was not recorded.`);
      }
      if (digest && stored.hash?.algorithm === 'sha256' && stored.hash.value !== digest) {
        throw new FileChangedError(`${storage.describe(f.key)} does not match the sha256 of ${f.path} after the upload; sending it again.`);
      }
      const after = await stat(f.path).catch(() => undefined);
      const changed = !after || after.mtimeMs !== before.mtimeMs || after.size !== before.size;
      if (changed) {
        const grewOnly = opts.growing && after !== undefined && after.size >= before.size;
        if (!grewOnly) {
          changes++;
          throw new FileChangedError(`${f.path} changed while it was being sent (size or modification time differs); sending it again.`);
        }
      }
      const sha256 = digest ?? (stored.hash?.algorithm === 'sha256' ? stored.hash.value : undefined);
      return { path: f.path, key: f.key, size: limit, sha256, location: stored.location, attempts: attempt };
    },
    {
      policy: { ...DEFAULT_RETRY, attempts: opts.maxAttempts ?? DEFAULT_RETRY.attempts },
      signal: opts.signal,
      retryable: (err) => (err instanceof FileChangedError ? changes < CHANGE_RESENDS : isTransient(err)),
      onRetry: (err, attempt, delay) => {
        opts.log?.warn(`sync: ${f.path} → ${storage.describe(f.key)} failed (${errorMessage(err)}); retry ${attempt} in ${delay} ms`);
        opts.events?.onRetry?.(f, errorMessage(err), attempt, delay);
      },
    },
  ).catch((err: unknown) => {
    if (err instanceof FileChangedError) {
      throw new OnedumpError(`${f.path} kept changing while it was being sent (${changes} tries); it was not recorded — rerun the sync when it is quiet.`);
    }
    throw new OnedumpError(`cannot send ${f.path} to ${storage.describe(f.key)}: ${errorMessage(err).replace(/\.$/, '')}.`, { cause: err });
  });
  if (state && sent.sha256) await state.record(sent.sha256);
  if (opts.deleteSourceAfter) {
    const now = await stat(f.path).catch(() => undefined);
    if (now && now.size === sent.size) {
      await unlink(f.path);
    } else {
      opts.log?.warn(`sync: ${f.path} grew after it was sent; kept (only the first ${sent.size} bytes were sent)`);
    }
  }
  opts.events?.onDone?.(f, sent);
  return sent;
}
