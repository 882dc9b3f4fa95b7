import { appendFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { mkdirs } from '../util/mkdirs.js';
import type { Storage } from '../storage/types.js';
import type { Logger } from '../util/logger.js';
import { OnedumpError } from '../util/errors.js';
import { runSync, type SyncEvents, type SyncResult } from '../sync/engine.js';
import { defaultStatePath } from '../sync/state.js';
import type { BinlogStatus } from './status.js';

/** The Go tool's default result log, in the binlog folder. */
export const SYNC_RESULT_FILE = 'onedump-binlog-sync.log';

export interface BinlogSyncOptions {
  status: BinlogStatus;
  storage: Storage;
  /** Key prefix (folder) at the destination; files keep their names under it. */
  prefix: string;
  /**
   * The Go tool's uncleaned prefix for the same folder (its `--s3-prefix` + "/", e.g. "binlogs//"): a file already
   * stored under that prefix (and not under `prefix`) is kept there, so it is neither sent again nor copied twice.
   */
  goPrefix?: string;
  checksum: boolean;
  checksumFile?: string;
  saveLog: boolean;
  logFile?: string;
  parallel?: number;
  maxAttempts?: number;
  dryRun?: boolean;
  log?: Logger;
  events?: SyncEvents;
}

export interface BinlogSyncOutcome {
  result: SyncResult;
  /** Files the run tried to send (the Go log's `files`). */
  files: string[];
  logFile?: string;
}

/**
 * Uploads the server's binlogs (the files SHOW BINARY LOGS lists, in the folder of log_bin_basename) with the sync
 * engine. Each file is sent up to the size the server reported (the end of its last complete event), so the active
 * binlog is shipped consistently and sent again once it has grown.
 */
export async function syncBinlogs(o: BinlogSyncOptions): Promise<BinlogSyncOutcome> {
  const { status } = o;
  if (!status.logBin) throw new OnedumpError(`binary logging is off on ${status.server || 'the server'} (log_bin = OFF); enable log_bin to ship binlogs.`);
  if (!status.dir) throw new OnedumpError('the server did not report log_bin_basename, so the binlog folder is unknown.');
  const dir = status.dir;
  if (!status.binlogs.length) throw new OnedumpError(`the server lists no binlog files (SHOW BINARY LOGS is empty).`);
  const limits = new Map<string, number>();
  const files = [];
  for (const b of status.binlogs) {
    const path = join(dir, b.name);
    const st = await stat(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        throw new OnedumpError(
          `binlog ${path} is not on this machine; run binlog sync on the database server itself (or where its binlog folder ${dir} is mounted).`,
        );
      }
      throw new OnedumpError(`cannot read binlog ${path}: ${err.message}; run as a user that can read ${dir} (e.g. mysql).`);
    });
    limits.set(path, b.size);
    files.push({ path, rel: b.name, size: st.size, mtimeMs: st.mtimeMs, key: o.prefix + b.name });
  }
  // Keys beginning with "/" (the Go tool's empty or "/…" prefix) cannot be told apart here: storages strip them.
  if (o.goPrefix !== undefined && o.goPrefix !== o.prefix && !o.goPrefix.startsWith('/') && o.goPrefix.startsWith(o.prefix)) {
    const present = new Set<string>();
    for await (const obj of o.storage.list(o.prefix)) present.add(obj.key);
    for (const f of files) {
      const goKey = o.goPrefix + f.rel;
      if (present.has(goKey) && !present.has(f.key)) {
        o.log?.debug({ file: f.rel, key: goKey }, 'binlog sync: keeping the key the Go tool wrote');
        f.key = goKey;
      }
    }
  }
  let result: SyncResult | undefined;
  let failure: unknown;
  try {
    result = await runSync({
      storage: o.storage,
      files,
      checksum: o.checksum,
      stateFile: defaultStatePath(dir, o.checksumFile),
      parallel: o.parallel ?? 10,
      maxAttempts: o.maxAttempts,
      growing: true,
      limits,
      dryRun: o.dryRun,
      log: o.log,
      events: o.events,
    });
  } catch (err) {
    failure = err;
  }
  const tried = result ? result.planned.filter((p) => p.action === 'send').map((p) => p.path) : files.map((f) => f.path);
  let logFile: string | undefined;
  if (o.saveLog && !o.dryRun) {
    logFile = o.logFile && o.logFile.trim() ? o.logFile : join(dir, SYNC_RESULT_FILE);
    const error = failure ? (failure as Error).message : (result?.failed ?? []).map((f) => f.error).join('\n');
    // The Go tool's line: RFC 3339 time in UTC, `files` null when none was tried.
    const line = JSON.stringify({ finished_at: goTime(new Date()), files: tried.length ? tried : null, ok: !error, error }) + '\n';
    try {
      await mkdirs(dirname(logFile));
      await appendFile(logFile, line, { mode: 0o644 });
    } catch (err) {
      const e = new OnedumpError(`cannot append the sync result to ${logFile}: ${(err as Error).message}; pass --log-file with a writable path.`);
      if (!failure) failure = e;
    }
  }
  if (failure) throw failure;
  return { result: result!, files: tried, logFile };
}

/** Go's time.Time JSON form (RFC 3339 with the fraction's trailing zeros dropped), e.g. 2026-12-03T07:27:18.12Z. */
export function goTime(d: Date): string {
  return d.toISOString().replace(/\.(\d*?)0*Z$/, (_m, f: string) => (f ? `.${f}Z` : 'Z'));
}
