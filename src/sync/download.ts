import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, rm, stat, utimes } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import { createHash, type Hash } from 'node:crypto';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PARTIAL_SUFFIX, type ObjectInfo, type Storage } from '../storage/types.js';
import type { Logger } from '../util/logger.js';
import { retry, DEFAULT_RETRY } from '../util/retry.js';
import { mapSettled } from '../util/concurrency.js';
import { errorMessage, PermanentError, TransientError } from '../util/errors.js';
import { mkdirs } from '../util/mkdirs.js';
import type { FileMode } from '../storage/mode.js';

export interface DownloadOptions {
  storage: Storage;
  /** Key prefix (a raw string prefix of the keys, as S3 lists them). */
  prefix: string;
  /**
   * How a key becomes a path under `dir`: 'folder' (default) keeps the key's path relative to the prefix's folder
   * part (up to its last '/'); 'prefix' is the Go tool's `download s3`: the key with the prefix cut off (see
   * localPathOf).
   */
  naming?: 'folder' | 'prefix';
  dir: string;
  /** Permission bits of the files written; default 'umask' (0666 less the umask, as the Go tool's os.Create). */
  mode?: FileMode;
  parallel?: number;
  maxAttempts?: number;
  dryRun?: boolean;
  log?: Logger;
  signal?: AbortSignal;
  events?: {
    onPlan?(items: DownloadItem[]): void;
    onStart?(i: DownloadItem): void;
    onProgress?(i: DownloadItem, bytes: number): void;
    onDone?(i: DownloadItem): void;
    onFail?(i: DownloadItem, error: string): void;
  };
}

export interface DownloadItem {
  key: string;
  /** Relative path under the target folder (forward slashes). */
  rel: string;
  path: string;
  size: number;
  action: 'download' | 'skip';
  reason: string;
  object: ObjectInfo;
}

export interface DownloadResult {
  planned: DownloadItem[];
  downloaded: DownloadItem[];
  skipped: DownloadItem[];
  failed: Array<{ key: string; path: string; error: string }>;
  bytes: number;
  durationMs: number;
}

/** A hasher matching the backend's own hash, when we know how to compute it. */
function backendHasher(o: ObjectInfo): { update(b: Buffer): void; digest(): string } | undefined {
  const h = o.hash;
  if (!h) return undefined;
  const alg = h.algorithm.toLowerCase();
  if (alg === 'sha256' || alg === 'md5') {
    const x = createHash(alg);
    return { update: (b) => x.update(b), digest: () => x.digest('hex') };
  }
  // An S3 ETag is the md5 of the object unless it came from a multipart upload ("…-N").
  if (alg === 'etag' && /^"?[0-9a-f]{32}"?$/i.test(h.value)) {
    const x = createHash('md5');
    return { update: (b) => x.update(b), digest: () => x.digest('hex') };
  }
  if (alg === 'dropbox-content-hash' || alg === 'dropbox' || alg === 'content_hash') return dropboxHasher();
  return undefined;
}

/** Dropbox content_hash: sha256 over the concatenated sha256 of each 4 MiB block. */
function dropboxHasher(): { update(b: Buffer): void; digest(): string } {
  const BLOCK = 4 * 1024 * 1024;
  const outer = createHash('sha256');
  let block: Hash = createHash('sha256');
  let inBlock = 0;
  return {
    update(b: Buffer) {
      let off = 0;
      while (off < b.length) {
        const n = Math.min(BLOCK - inBlock, b.length - off);
        block.update(b.subarray(off, off + n));
        inBlock += n;
        off += n;
        if (inBlock === BLOCK) {
          outer.update(block.digest());
          block = createHash('sha256');
          inBlock = 0;
        }
      }
    },
    digest() {
      if (inBlock > 0) outer.update(block.digest());
      return outer.digest('hex');
    },
  };
}

const expected = (o: ObjectInfo) => o.hash!.value.replace(/"/g, '').toLowerCase();

async function hashLocal(path: string, o: ObjectInfo): Promise<string | undefined> {
  const h = backendHasher(o);
  if (!h) return undefined;
  for await (const c of createReadStream(path, { highWaterMark: 1024 * 1024 })) h.update(c as Buffer);
  return h.digest();
}

/** Whether the local copy is identical: same size and same backend hash (or, with no hash, the modification time we set). */
async function identical(path: string, o: ObjectInfo): Promise<string | undefined> {
  const st = await stat(path).catch(() => undefined);
  if (!st) return undefined;
  if (!st.isFile() || st.size !== o.size) return undefined;
  const local = await hashLocal(path, o);
  if (local !== undefined) return local === expected(o) ? `identical (size and ${o.hash!.algorithm})` : undefined;
  if (o.modified && Math.abs(st.mtimeMs - o.modified.getTime()) < 1000) return 'identical (size and modification time)';
  return undefined;
}

function relativeKey(key: string, prefix: string): string {
  const folder = prefix.slice(0, prefix.lastIndexOf('/') + 1);
  return key.startsWith(folder) ? key.slice(folder.length) : key;
}

/**
 * The Go tool's `download s3` names a file by the key with the prefix cut off and leading slashes trimmed
 * (`strings.TrimPrefix(key, prefix)`): prefix `binlogs` or `binlogs/` gives `binlogs/mysql-bin.000001` →
 * `mysql-bin.000001`. Where that cut would fall inside a name (prefix `binlogs/mysql-bin.0000` gave `01`, `binlogs`
 * gave `binlogsX/a` → `X/a`, and a prefix equal to the key gave no name at all) the name is kept whole: the key from
 * the prefix's last '/' on (`mysql-bin.000001`, `binlogsX/a`).
 */
export function goDownloadPath(key: string, prefix: string): string {
  const atBoundary = prefix === '' || prefix.endsWith('/') || key[prefix.length] === '/';
  const cut = key.startsWith(prefix) && atBoundary ? prefix.length : prefix.lastIndexOf('/') + 1;
  return key.slice(cut).replace(/^\/+/, '');
}

/** Downloads every object under a prefix, in parallel, each streamed to name.partial, verified, then renamed. */
export async function runDownload(opts: DownloadOptions): Promise<DownloadResult> {
  const started = Date.now();
  const root = resolve(opts.dir);
  const objects: ObjectInfo[] = [];
  for await (const o of opts.storage.list(opts.prefix)) objects.push(o);
  // Two keys for one local file (`a//b` and `a/b`, say) would overwrite each other: refuse before downloading either.
  const byPath = new Map<string, string>();
  const placed = objects.map((o) => {
    const rel = opts.naming === 'prefix' ? goDownloadPath(o.key, opts.prefix) : relativeKey(o.key, opts.prefix);
    const path = resolve(root, rel);
    if (!path.startsWith(root + sep)) throw new PermanentError(`object ${o.key} would be written outside ${root}; refusing.`);
    const other = byPath.get(path);
    if (other !== undefined) throw new PermanentError(`objects ${other} and ${o.key} would both be written to ${path}; download them with separate prefixes.`);
    byPath.set(path, o.key);
    return { o, rel, path };
  });
  const planned = (
    await mapSettled(placed, 8, async ({ o, rel, path }): Promise<DownloadItem> => {
      const same = await identical(path, o);
      return { key: o.key, rel, path, size: o.size, object: o, action: same ? 'skip' : 'download', reason: same ?? 'missing or different locally' };
    })
  ).map((r) => {
    if (r.status === 'rejected') throw r.reason;
    return r.value;
  });
  opts.events?.onPlan?.(planned);
  const result: DownloadResult = { planned, downloaded: [], skipped: planned.filter((p) => p.action === 'skip'), failed: [], bytes: 0, durationMs: 0 };
  if (opts.dryRun) {
    result.durationMs = Date.now() - started;
    return result;
  }
  const todo = planned.filter((p) => p.action === 'download');
  const settled = await mapSettled(todo, opts.parallel ?? 10, async (item) => {
    opts.events?.onStart?.(item);
    await retry(() => downloadOne(item, opts), {
      policy: { ...DEFAULT_RETRY, attempts: opts.maxAttempts ?? DEFAULT_RETRY.attempts },
      signal: opts.signal,
      onRetry: (err, attempt, delay) => opts.log?.warn(`download: ${opts.storage.describe(item.key)} failed (${errorMessage(err)}); retry ${attempt} in ${delay} ms`),
    });
    opts.events?.onDone?.(item);
  });
  settled.forEach((r, i) => {
    const item = todo[i]!;
    if (r.status === 'fulfilled') {
      result.downloaded.push(item);
      result.bytes += item.size;
    } else {
      const error = `cannot download ${opts.storage.describe(item.key)} to ${item.path}: ${errorMessage(r.reason).replace(/\.$/, '')}.`;
      result.failed.push({ key: item.key, path: item.path, error });
      opts.events?.onFail?.(item, error);
    }
  });
  result.durationMs = Date.now() - started;
  return result;
}

async function downloadOne(item: DownloadItem, opts: DownloadOptions): Promise<void> {
  const partial = item.path + PARTIAL_SUFFIX;
  try {
    await mkdirs(dirname(item.path));
  } catch (err) {
    throw new PermanentError(`cannot create folder ${dirname(item.path)}: ${(err as Error).message}`, { cause: err });
  }
  const h = backendHasher(item.object);
  let n = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _e, cb) {
      h?.update(chunk);
      n += chunk.length;
      opts.events?.onProgress?.(item, n);
      cb(null, chunk);
    },
  });
  try {
    const body = await opts.storage.get(item.key, { signal: opts.signal });
    // As local storage does: a new partial file (a leftover one would keep its mode), an explicit mode set exactly.
    const mode = opts.mode ?? 'umask';
    await rm(partial, { force: true });
    await pipeline(body, meter, createWriteStream(partial, { mode: mode === 'umask' ? 0o666 : mode }), { signal: opts.signal });
    const fh = await open(partial, 'r');
    try {
      if (mode !== 'umask') await fh.chmod(mode);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (n !== item.size) throw new TransientError(`received ${n} bytes, the listing said ${item.size}`);
    if (h) {
      const got = h.digest();
      if (got !== expected(item.object)) throw new TransientError(`the ${item.object.hash!.algorithm} of the received bytes does not match the backend's`);
    }
    await rename(partial, item.path);
    if (item.object.modified) await utimes(item.path, new Date(), item.object.modified).catch(() => undefined);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
}
