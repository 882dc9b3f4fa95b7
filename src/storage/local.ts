import { createReadStream, createWriteStream, fdatasync, type WriteStream } from 'node:fs';
import { open, opendir, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve, sep, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import { homedir, hostname } from 'node:os';
import { z } from 'zod';
import { str, keepField } from '../config/fields.js';
import { PermanentError } from '../util/errors.js';
import { FLUSH_BEHIND_EVERY, PARTIAL_SUFFIX, type ObjectInfo, type PutOptions, type Storage, type StoredObject } from './types.js';
import type { StorageBackend } from './backend.js';
import { mkdirs } from '../util/mkdirs.js';
import { BACKUP_MODE, modeBits, modeField, type FileMode } from './mode.js';
import { processAlive } from '../util/process-alive.js';

export function expandHome(p: string): string {
  return p === '~' ? homedir() : p.startsWith('~/') ? join(homedir(), p.slice(2)) : p;
}

/**
 * Removes what killed runs left while writing `finalPath`: `NAME.partial` (the name before writers had their own) and
 * `NAME.HOST.PID-RANDOM.partial` whose process is gone from this host. A live writer's file is left alone.
 */
async function removeLeftoverPartials(finalPath: string): Promise<void> {
  const base = basename(finalPath);
  let names: string[];
  try {
    names = await readdir(dirname(finalPath));
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(base + '.') || !name.endsWith(PARTIAL_SUFFIX)) continue;
    const middle = name.slice(base.length + 1, -PARTIAL_SUFFIX.length);
    const own = /^(.+)\.(\d+)-[0-9a-f]{8}$/.exec(middle);
    if (middle !== '' && !own) continue; // another key's file (NAME.gz.partial for NAME)
    // Another host's writer (a shared NFS folder) cannot be checked from here: its file is left alone.
    if (own && (own[1] !== hostname() || processAlive(Number(own[2])))) continue;
    const leftover = join(dirname(finalPath), name);
    try {
      await rm(leftover, { force: true });
    } catch (err) {
      throw new PermanentError(`local storage: cannot remove the leftover ${leftover}: ${(err as Error).message}.`, { cause: err });
    }
  }
}


/** Files on local disk under `root`; writes `name.HOST.PID-RANDOM.partial`, fsyncs, then renames, so a final name is always whole. */
export class LocalStorage implements Storage {
  readonly kind = 'local';
  readonly root: string;
  /** Background flushes during the last put (flush-behind), for logs and tests. */
  lastFlushes = 0;
  private readonly flushEvery: number;
  /** The `mode:` of the config entry, when it has one. */
  private readonly mode?: number;

  /**
   * `flushEvery`: bytes between background flushes (default 64 MiB; 0 = off). `mode`: permission bits of every file
   * written (the config's `mode:`); a put's own `mode` wins, and without either files are 0600.
   */
  constructor(root: string, opts: { flushEvery?: number; mode?: number } = {}) {
    this.root = resolve(expandHome(root));
    this.flushEvery = opts.flushEvery ?? FLUSH_BEHIND_EVERY;
    this.mode = opts.mode;
  }

  /** The mode a put creates its file with (see PutOptions.mode). */
  private modeFor(requested: FileMode | undefined): FileMode {
    if (typeof requested === 'number') return requested;
    return this.mode ?? (requested === 'umask' ? 'umask' : BACKUP_MODE);
  }

  describe(key?: string): string {
    return key === undefined ? this.root : this.pathOf(key);
  }

  pathOf(key: string): string {
    const p = resolve(this.root, key);
    if (p !== this.root && !p.startsWith(this.root.endsWith(sep) ? this.root : this.root + sep)) {
      throw new PermanentError(`local storage: key "${key}" points outside ${this.root}.`);
    }
    return p;
  }

  async put(key: string, body: Readable, opts: PutOptions = {}): Promise<StoredObject> {
    const finalPath = this.pathOf(key);
    // A name of its own per writer (host, pid and random): two runs writing the same key at once (`--no-lock`, or two hosts
    // on one NFS folder) each rename a whole file of their own; with one shared name.partial the first rename would
    // publish the second writer's half-written file.
    const partial = `${finalPath}.${hostname()}.${process.pid}-${randomBytes(4).toString('hex')}${PARTIAL_SUFFIX}`;
    try {
      await mkdirs(dirname(finalPath));
    } catch (err) {
      throw new PermanentError(`local storage: cannot create folder ${dirname(finalPath)}: ${(err as Error).message}.`, { cause: err });
    }
    await removeLeftoverPartials(finalPath);
    // The bytes are hashed only to check an expected sha256: the job pipeline and sync already hash what they send, and
    // a second hash of the same bytes in memory proves nothing and costs ~0.5 s/GB on the one JavaScript thread.
    const hash = opts.sha256 ? createHash('sha256') : undefined;
    let size = 0;
    const mode = this.modeFor(opts.mode);
    // An explicit mode is given at the file's creation (the umask can only take bits away, so the file is never more
    // open than asked) and set exactly, with chmod, before the rename; the rename keeps it.
    const out = createWriteStream(partial, { mode: mode === 'umask' ? 0o666 : mode, flags: 'wx' });
    this.lastFlushes = 0;
    const flusher = flushBehind(out, this.flushEvery, () => this.lastFlushes++);
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash?.update(chunk);
        size += chunk.length;
        flusher.poke(size);
        opts.onProgress?.(size);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(body, counter, out, { signal: opts.signal });
      await flusher.settled();
      const fh = await open(partial, 'r');
      try {
        if (mode !== 'umask') await fh.chmod(mode);
        await fh.sync();
      } finally {
        await fh.close();
      }
      const digest = hash?.digest('hex');
      if (opts.sha256 && opts.sha256 !== digest) {
        throw new PermanentError(`local storage: ${finalPath} does not match the expected sha256 (${digest} ≠ ${opts.sha256}).`);
      }
      if (opts.size !== undefined && opts.size !== size) {
        throw new PermanentError(`local storage: ${finalPath} has ${size} bytes, expected ${opts.size}.`);
      }
      await rename(partial, finalPath);
      await syncDir(dirname(finalPath));
      return { key, size, location: finalPath, hash: digest ? { algorithm: 'sha256', value: digest } : undefined };
    } catch (err) {
      // The stream opens its file lazily: wait until it is closed, or the file could appear after the rm below.
      if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));
      await flusher.settled();
      await rm(partial, { force: true });
      if ((err as NodeJS.ErrnoException).code === 'EACCES' || (err as NodeJS.ErrnoException).code === 'EROFS') {
        throw new PermanentError(`local storage: cannot write ${finalPath}: permission denied; check the folder's owner and mode.`, { cause: err });
      }
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') {
        throw new PermanentError(`local storage: no space left on the device holding ${finalPath}.`, { cause: err });
      }
      throw err;
    }
  }

  async get(key: string, opts: { signal?: AbortSignal; start?: number } = {}): Promise<Readable> {
    const p = this.pathOf(key);
    const st = await this.stat(key);
    if (!st) throw new PermanentError(`local storage: ${p} does not exist.`);
    return createReadStream(p, { start: opts.start, signal: opts.signal });
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    // prefix is a key prefix: list the folder part, then filter on the rest.
    const slash = prefix.lastIndexOf('/');
    const dirKey = slash >= 0 ? prefix.slice(0, slash) : '';
    const start = this.pathOf(dirKey);
    yield* this.walk(start, dirKey, prefix);
  }

  private async *walk(dir: string, dirKey: string, prefix: string): AsyncIterable<ObjectInfo> {
    let handle;
    try {
      handle = await opendir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const entries: string[] = [];
    for await (const ent of handle) entries.push(ent.name);
    entries.sort();
    for (const name of entries) {
      const key = dirKey ? `${dirKey}/${name}` : name;
      const full = join(dir, name);
      const st = await stat(full).catch(() => undefined);
      if (!st) continue;
      if (st.isDirectory()) {
        if (key.startsWith(prefix) || prefix.startsWith(key + '/')) yield* this.walk(full, key, prefix);
      } else if (st.isFile() && key.startsWith(prefix) && !name.endsWith(PARTIAL_SUFFIX)) {
        yield { key, size: st.size, modified: st.mtime };
      }
    }
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const st = await stat(this.pathOf(key));
      return st.isFile() ? { key, size: st.size, modified: st.mtime } : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await unlink(this.pathOf(key)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
}

/**
 * Flush-behind: every FLUSH_BEHIND_EVERY bytes the file is fdatasynced in the background (on libuv's thread pool, next to
 * the writes) while the stream goes on, so the fsync before the rename waits for the last few MiB instead of the
 * whole backup: a host with plenty of RAM otherwise keeps all of it in the page cache until that fsync (~0.7 s per
 * GiB on this machine's SSD, seconds per GiB on a disk array). Failures are left to the final fsync, which reports
 * them.
 */
function flushBehind(out: WriteStream, every: number, onDone: () => void): { poke(written: number): void; settled(): Promise<void> } {
  let flushedTo = 0;
  let running: Promise<void> | undefined;
  return {
    poke(written) {
      // The stream's own descriptor. Should the stream close it first (an error), the flush fails (ignored) or, if the
      // number was reused meanwhile, flushes some other file: harmless either way.
      const fd = (out as unknown as { fd: number | null }).fd;
      if (every <= 0 || running || typeof fd !== 'number' || written - flushedTo < every || out.closed) return;
      flushedTo = written;
      running = new Promise<void>((resolve) => fdatasync(fd, (err) => {
        if (!err) onDone();
        resolve();
      })).finally(() => (running = undefined));
    },
    settled: () => running ?? Promise.resolve(),
  };
}

async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    /* some filesystems refuse fsync on directories; the rename is still atomic */
  }
}

const localOptions = z.strictObject({
  path: str({ description: 'File path of the backup (absolute, or relative to the working folder; ~ is expanded).', example: '/backups/app.sql', go: true }),
  keep: keepField('in this folder'),
  mode: modeField(
    'Permission bits of the backup file, an octal string in quotes (`mode: "0640"` lets the group read it); set exactly, whatever the umask. Also used by `onedump sync --storage` to this entry. Default "0600": backups hold data, so only the owner reads them (the Go tool created them 0666 less the umask, usually 0644).',
  ),
});
export type LocalOptions = z.infer<typeof localOptions>;

export const localBackend: StorageBackend<LocalOptions> = {
  kind: 'local',
  summary: 'A file on local disk (written as name.…partial, fsynced, renamed).',
  options: localOptions,
  schemes: ['file'],
  fromConfig(opts) {
    const abs = resolve(expandHome(opts.path));
    return { storage: new LocalStorage(dirname(abs), { mode: modeBits(opts.mode) }), key: basename(abs) };
  },
  fromUrl(url) {
    const abs = url.protocol === 'file:' ? fileURLToPath(url) : url.pathname;
    if (!isAbsolute(abs)) throw new PermanentError(`local storage: ${abs} is not an absolute path.`);
    if (abs.endsWith('/')) return { storage: new LocalStorage(abs), key: '' };
    return { storage: new LocalStorage(dirname(abs)), key: basename(abs) };
  },
  describe(opts) {
    return resolve(expandHome(opts.path));
  },
};
