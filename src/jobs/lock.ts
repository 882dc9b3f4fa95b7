import { createHash, randomUUID } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { link, lstat, mkdir, open, readFile, rename, unlink, utimes } from 'node:fs/promises';
import { hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { formatDuration } from '../util/duration.js';
import { OnedumpError } from '../util/errors.js';
import { processAlive } from '../util/process-alive.js';

/**
 * One run of a job at a time on a host: a lock file per job, created exclusively (O_EXCL), holding its owner, and
 * touched while the run goes on. A lock whose owner is gone is taken over: the same host's process is no longer
 * alive, or (another host sharing the folder, or a reused pid) the file has not been touched for `ttlMs`.
 *
 * Node has no flock(2); an O_EXCL file with a liveness check gives the same exclusion on a local file system and,
 * unlike flock, also tells the loser who holds the lock and since when.
 */
export interface LockOwner {
  pid: number;
  host: string;
  job: string;
  startedAt: string;
  token: string;
}

export interface LockOptions {
  /** Folder of the lock files (default: see defaultLockDir). */
  dir?: string;
  /** How long to wait for a held lock before giving up (ms; 0 = do not wait). */
  waitMs?: number;
  /** A lock not touched for this long is stale (ms; default 2 min). The holder touches it every ttl/6. */
  ttlMs?: number;
  /** How often a waiting run looks again (ms; default 1 s). */
  pollMs?: number;
  signal?: AbortSignal;
  /** Told when a stale lock is taken over. */
  onTakeover?: (stale: LockOwner | undefined) => void;
}

export class LockHeldError extends OnedumpError {
  constructor(
    readonly job: string,
    readonly owner: LockOwner | undefined,
    waitedMs: number,
  ) {
    const who = owner ? ` (pid ${owner.pid} on ${owner.host}, since ${owner.startedAt})` : '';
    const waited = waitedMs > 0 ? ` after waiting ${formatDuration(waitedMs)}` : '';
    super(`another run of job "${job}" holds its lock${who}; this run is skipped${waited}`);
  }
}

export interface JobLock {
  readonly path: string;
  release(): Promise<void>;
}

const DEFAULT_TTL = 120_000;

/** $ONEDUMP_LOCK_DIR, else a folder of this user's under the temporary folder (so no other account can block a run). */
export function defaultLockDir(): string {
  if (process.env.ONEDUMP_LOCK_DIR) return process.env.ONEDUMP_LOCK_DIR;
  let user: string | number = process.getuid?.() ?? 'user';
  if (user === 'user') {
    try {
      user = userInfo().username;
    } catch {
      // no account name: the folder name stays generic
    }
  }
  return join(tmpdir(), `onedump-locks-${user}`);
}

/**
 * The lock file of a job: its name plus a hash of where it writes, so that two configs that happen to share a job
 * name but write elsewhere do not block each other, and two runs of the same job (same destinations) always do.
 */
export function lockFileName(job: string, locations: readonly string[]): string {
  const hash = createHash('sha256')
    .update([job, ...[...locations].sort()].join('\0'))
    .digest('hex')
    .slice(0, 12);
  const safe = job.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80);
  return `${safe}-${hash}.lock`;
}

export async function acquireJobLock(job: string, locations: readonly string[], opts: LockOptions = {}): Promise<JobLock> {
  const dir = opts.dir ?? defaultLockDir();
  await ensurePrivateDir(dir);
  const path = join(dir, lockFileName(job, locations));
  const ttl = opts.ttlMs ?? DEFAULT_TTL;
  const me: LockOwner = { pid: process.pid, host: hostname(), job, startedAt: new Date().toISOString(), token: randomUUID() };
  const started = Date.now();
  for (;;) {
    opts.signal?.throwIfAborted();
    if (await tryCreate(path, me)) break;
    const held = await readOwner(path);
    if (held === 'gone') continue;
    if (await isStale(path, held, ttl)) {
      if (await takeOver(path, held, me.token)) opts.onTakeover?.(held);
      continue;
    }
    const waited = Date.now() - started;
    if (waited >= (opts.waitMs ?? 0)) throw new LockHeldError(job, held, opts.waitMs ? waited : 0);
    await delay(Math.min(opts.pollMs ?? 1000, Math.max(1, (opts.waitMs ?? 0) - waited)), undefined, { signal: opts.signal });
  }
  const beat = setInterval(() => void utimes(path, new Date(), new Date()).catch(() => undefined), Math.max(50, Math.floor(ttl / 6)));
  beat.unref();
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      clearInterval(beat);
      // Only our own lock: a run that lost it (taken over as stale while the machine was suspended) leaves the new one.
      const now = await readOwner(path);
      if (now !== 'gone' && now?.token === me.token) await unlink(path).catch(() => undefined);
    },
  };
}

async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await lstat(dir);
  if (!st.isDirectory()) throw new OnedumpError(`the lock folder ${dir} is not a folder; set ONEDUMP_LOCK_DIR or --lock-dir to one.`);
  if (typeof process.getuid === 'function' && st.uid !== process.getuid() && !process.env.ONEDUMP_LOCK_DIR)
    throw new OnedumpError(`the lock folder ${dir} belongs to another account; set ONEDUMP_LOCK_DIR or --lock-dir to a folder of yours.`);
}

async function tryCreate(path: string, me: LockOwner): Promise<boolean> {
  let fh;
  try {
    fh = await open(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new OnedumpError(`cannot create the lock file ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    await fh.writeFile(JSON.stringify(me) + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
  return true;
}

/** The owner recorded in the file; undefined when it cannot be read as one (being written, or damaged); 'gone' when there is no file. */
async function readOwner(path: string): Promise<LockOwner | undefined | 'gone'> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw new OnedumpError(`cannot read the lock file ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const o = JSON.parse(text) as LockOwner;
    return typeof o.pid === 'number' && typeof o.token === 'string' ? o : undefined;
  } catch {
    return undefined;
  }
}

async function isStale(path: string, owner: LockOwner | undefined, ttl: number): Promise<boolean> {
  let mtime: number;
  try {
    mtime = (await lstat(path)).mtimeMs;
  } catch {
    return false; // gone: the next round creates it
  }
  if (Date.now() - mtime > ttl) return true;
  // A file still being written (no owner yet) is fresh until the TTL says otherwise.
  if (!owner || owner.host !== hostname()) return false;
  return !processAlive(owner.pid);
}

/**
 * Moves the stale file aside (rename is atomic: of several runs taking over at once one moves it) and checks it is
 * the one judged stale; a fresh lock moved by mistake (another run took over in between) is put back.
 */
async function takeOver(path: string, stale: LockOwner | undefined, token: string): Promise<boolean> {
  const aside = `${path}.stale-${token}`;
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  const moved = await readOwner(aside);
  const same = moved !== 'gone' && (stale === undefined ? moved === undefined : moved?.token === stale.token);
  if (!same) await link(aside, path).catch(() => undefined); // put back unless a newer lock is already there
  await unlink(aside).catch(() => undefined);
  return same;
}
