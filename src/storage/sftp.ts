import { PassThrough, addAbortSignal, type Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { existsSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { z } from 'zod';
import type { SFTPWrapper, Stats } from 'ssh2';
import { str, described, bool, keepField } from '../config/fields.js';
import { sshFields } from '../ssh/options.js';
import { connectSsh, sshTarget, shellQuote, splitHostPort, type SshSession, type SshTarget } from '../ssh/client.js';
import { OnedumpError, PermanentError, TransientError, UsageError, errorMessage, isTransient } from '../util/errors.js';
import { DEFAULT_RETRY, retry, type RetryPolicy } from '../util/retry.js';
import type { Logger } from '../util/logger.js';
import type { StorageBackend } from './backend.js';
import { FLUSH_BEHIND_EVERY, PARTIAL_SUFFIX, type ObjectInfo, type PutOptions, type Storage, type StoredObject } from './types.js';
import { pushedChunks, waker } from '../util/streams.js';
import { BACKUP_MODE, folderModeFor, formatMode, modeBits, modeField, type FileMode } from './mode.js';

/** How long writes may wait for an acknowledgement before the connection is considered stalled. */
const STALL_MS = 20_000;

/** SFTP status codes (draft-ietf-secsh-filexfer-02). */
const NO_SUCH_FILE = 2;
const PERMISSION_DENIED = 3;

export interface SftpStorageConfig {
  target: SshTarget;
  /** Remote folder all keys are relative to ('' = the login folder). */
  root: string;
  /** Upload attempts per fault streak before giving up; Infinity = unlimited (the Go tool's default). */
  maxAttempts?: number;
  /** After upload, run sha256sum on the server over SSH and compare with what was sent. */
  sha256sum?: boolean;
  /** Bytes per SFTP write request (default 128 KiB, less if the server's limit is lower). */
  chunkSize?: number;
  /** Write requests in flight; unacknowledged bytes are at most chunkSize × concurrency. */
  concurrency?: number;
  /** Flush-behind: acknowledged bytes between two background fsyncs (default 64 MiB; 0 = off). See FlushBehind. */
  flushEvery?: number;
  /** Permission bits of every file written (the config's `mode:`); a put's own `mode` wins; without either, 0600. */
  mode?: number;
  log?: Logger;
  retryPolicy?: Partial<RetryPolicy>;
}

/** One SSH connection with its SFTP channel, shared by the storage's operations. */
export interface SftpConn {
  session: SshSession;
  sftp: SFTPWrapper;
  dead: boolean;
  /** Called once when the connection is lost or given up: fails the requests and streams still waiting on it. */
  onLost: Set<(err: Error) => void>;
  /** Its flush-behind channel, once an upload asked for it (sideChannel). */
  side?: Promise<Conn>;
}

/** A network fault (transient) that fail() wraps with the action and the remote path. */
function connectionLost(why: string): Error {
  return Object.assign(new Error(why), { code: 'ECONNRESET', transient: true });
}

type Conn = SftpConn;

/** Marks a connection lost and fails everything still waiting on it. */
function lose(c: Conn, why: string): void {
  if (c.dead && c.onLost.size === 0) return;
  c.dead = true;
  const err = connectionLost(why);
  const waiting = [...c.onLost];
  c.onLost.clear();
  for (const f of waiting) f(err);
}

/**
 * One SFTP request on a connection. ssh2 never answers a request made after its channel closed (it is queued on a
 * closed channel and its callback never runs) and fails only the requests pending at the moment of the close; so a
 * request on a lost connection fails at once, and one in flight fails when the connection is lost.
 */
export function sftpCall<T>(c: Conn, fn: (sftp: SFTPWrapper, cb: (err: Error | undefined | null, v: T) => void) => void): Promise<T> {
  const state = (c.sftp as unknown as { outgoing?: { state?: string } }).outgoing?.state;
  if (c.dead || (state !== undefined && state !== 'open')) return Promise.reject(connectionLost('the SSH connection was lost'));
  return new Promise<T>((resolve, reject) => {
    const onLost = (err: Error) => reject(err);
    c.onLost.add(onLost);
    try {
      fn(c.sftp, (err, v) => {
        c.onLost.delete(onLost);
        if (err) reject(err);
        else resolve(v);
      });
    } catch (err) {
      c.onLost.delete(onLost);
      reject(err instanceof Error ? err : new Error(String(err)));
    }
  });
}

/** Counters of the last put, for logs and tests that check an upload resumed rather than restarted. */
export interface SftpUploadStats {
  /** Dropped connections recovered from. */
  reconnects: number;
  /** Bytes sent in write requests, resends included. */
  bytesSent: number;
  /** Offsets the upload resumed from after a dropped connection. */
  resumedAt: number[];
  /** Background fsyncs completed while the upload went on (flush-behind). */
  flushes: number;
}

/**
 * The connection's second SFTP channel (its own sftp-server process), for flush-behind; opened by the first upload
 * that needs it and kept until the connection closes. A refusal is remembered for the connection.
 */
function sideChannel(c: Conn): Promise<Conn> {
  if (!c.side) {
    const p = (async () => {
      const sftp = await c.session.sftp();
      const ext = (sftp as unknown as { _extensions?: Record<string, string> })._extensions ?? {};
      if (ext['fsync@openssh.com'] !== '1') {
        sftp.on('error', () => undefined);
        sftp.end();
        throw new Error('the server has no fsync@openssh.com');
      }
      const side: Conn = { session: c.session, sftp, dead: false, onLost: new Set() };
      // A channel that closes (its sftp-server exited, the connection dropped) is opened again by the next flush.
      const lost = () => {
        lose(side, 'the flush-behind channel closed');
        if (c.side === p) c.side = undefined;
      };
      sftp.on('close', lost);
      sftp.on('error', lost);
      return side;
    })();
    c.side = p;
  }
  return c.side;
}

/**
 * Flush-behind: while an upload goes on, the server is asked every `every` acknowledged bytes to write the partial
 * file to disk, so the fsync before the rename waits for the last few MB instead of the whole file (a 1 GiB upload
 * to a local sshd: the final fsync took 0.7 s, a tenth of the upload; with flush-behind 0.05 s). OpenSSH's
 * sftp-server answers one request at a time, so an fsync on the writing channel would hold up the writes behind it;
 * these run on the connection's second channel (sideChannel) with their own read-only handle on the partial file
 * (fsync flushes the file, whichever descriptor asks). Only an optimisation: it starts after the first `every`
 * bytes (small files never use it), any failure (a server that allows one channel per connection, no fsync
 * extension, …) turns it off for the upload, it never delays a write, and the commit still fsyncs the writing handle.
 */
class FlushBehind {
  private file?: { conn: Conn; side: Conn; handle: Buffer };
  private busy = false;
  private flushedTo = 0;
  private off = false;
  /** Bumped by release(): a handle that opens after it is closed again, not used. */
  private gen = 0;

  constructor(
    private readonly path: string,
    private readonly every: number,
    private readonly onDone: () => void,
    private readonly log: ((msg: string) => void) | undefined,
  ) {}

  /** After an acknowledgement on `c`: starts a flush when `every` more bytes are acknowledged and none is running. */
  poke(c: Conn, acked: number): void {
    if (this.off || this.busy || acked - this.flushedTo < this.every || c.dead) return;
    this.busy = true;
    this.flush(c)
      .then(
        () => {
          this.flushedTo = acked;
          this.onDone();
        },
        (err: unknown) => {
          this.release();
          // A dropped connection is the upload's to recover from; the next connection gets a channel of its own.
          if (c.dead) return;
          this.off = true;
          this.log?.(`flush-behind off for this upload: ${errorMessage(err)}`);
        },
      )
      .finally(() => (this.busy = false));
  }

  private async flush(c: Conn): Promise<void> {
    if (this.file?.conn !== c) {
      // First flush, or the upload reconnected: a handle on the current connection's side channel.
      this.release();
      const gen = this.gen;
      const side = await sideChannel(c);
      const handle = await sftpCall<Buffer>(side, (s, cb) => s.open(this.path, 'r', cb));
      this.file = { conn: c, side, handle };
      if (gen !== this.gen) {
        this.release();
        throw new Error('the upload ended');
      }
    }
    const { side, handle } = this.file;
    await sftpCall<unknown>(side, (s, cb) => s.ext_openssh_fsync(handle, cb));
  }

  /** Closes the side handle (not waited for; the channel stays for the next upload). */
  release(): void {
    this.gen++;
    const f = this.file;
    this.file = undefined;
    if (f) void sftpCall<void>(f.side, (s, cb) => s.close(f.handle, (e) => cb(e, undefined))).catch(() => undefined);
  }
}

/**
 * Files on an SSH server over SFTP. An upload writes `path.partial` with pipelined writes; each write's bytes are
 * kept until the server acknowledges them (at most chunkSize × concurrency), so after a dropped connection the
 * upload reconnects, reopens the partial file and resends only what was not acknowledged. When complete it is
 * fsynced, checked (size, optionally sha256sum on the server) and renamed over the final name.
 */
export class SftpStorage implements Storage {
  readonly kind = 'sftp';
  readonly retryPolicy: RetryPolicy;
  lastUpload?: SftpUploadStats;
  private readonly cfg: SftpStorageConfig;
  private conn?: Promise<Conn>;
  /** The connection `conn` resolved to, so a dead one can be forgotten synchronously. */
  private current?: Conn;
  private closed = false;

  constructor(cfg: SftpStorageConfig) {
    this.cfg = cfg;
    this.retryPolicy = { ...DEFAULT_RETRY, attempts: cfg.maxAttempts ?? Infinity, ...cfg.retryPolicy };
  }

  /**
   * Write size: 128 KiB, or less when the server takes less. (256 KiB writes measured about twice the client CPU per
   * GB here: ssh2 allocates a packet buffer of the write's size for every request.)
   */
  private chunkSizeFor(sftp: SFTPWrapper): number {
    if (this.cfg.chunkSize) return this.cfg.chunkSize;
    const max = (sftp as unknown as { _maxWriteLen?: number })._maxWriteLen ?? 32 * 1024;
    return Math.max(16 * 1024, Math.min(128 * 1024, max));
  }

  describe(key?: string): string {
    const t = this.cfg.target;
    const p = key === undefined ? this.cfg.root : this.pathOf(key);
    return `sftp://${t.user}@${t.host}${t.port === 22 ? '' : `:${t.port}`}${p.startsWith('/') ? '' : '/~/'}${p}`;
  }

  pathOf(key: string): string {
    const k = key.replace(/^\/+/, '');
    const p = this.cfg.root ? posix.join(this.cfg.root, k) : k;
    if (k.split('/').includes('..')) throw new PermanentError(`sftp storage: key "${key}" points outside ${this.describe()}.`);
    return p;
  }

  private connection(): Promise<Conn> {
    if (this.closed) return Promise.reject(new PermanentError(`sftp storage: ${this.describe()} is closed.`));
    if (!this.conn) {
      const p = (async () => {
        const session = await connectSsh(this.cfg.target, { onNotice: (m) => this.cfg.log?.warn(m) });
        try {
          const sftp = await session.sftp();
          const c: Conn = { session, sftp, dead: false, onLost: new Set() };
          const lost = () => {
            lose(c, `the SSH connection to ${this.describe()} closed`);
            if (this.conn === p) this.conn = undefined;
            if (this.current === c) this.current = undefined;
          };
          this.current = c;
          sftp.on('close', lost);
          sftp.on('error', lost);
          session.client.on('close', lost);
          session.client.on('error', lost);
          return c;
        } catch (err) {
          await session.close();
          throw err;
        }
      })();
      this.conn = p;
      p.catch(() => {
        if (this.conn === p) this.conn = undefined;
      });
    }
    return this.conn;
  }

  private drop(c: Conn): void {
    lose(c, `the SSH connection to ${this.describe()} was given up`);
    if (this.current === c) {
      this.current = undefined;
      this.conn = undefined;
    }
    void c.session.close().catch(() => undefined);
  }

  /** One sentence naming the backend, the path and the fix; network faults stay transient. */
  private fail(err: unknown, action: string, path: string): Error {
    if (err instanceof OnedumpError) return err;
    const where = this.describeRemote(path);
    const code = (err as { code?: unknown }).code;
    if (code === PERMISSION_DENIED) return new PermanentError(`sftp storage: permission denied when trying to ${action} ${where}; check the remote folder's owner and mode for ${this.cfg.target.user}.`, { cause: err });
    if (code === NO_SUCH_FILE) return new PermanentError(`sftp storage: ${where} does not exist (${action}).`, { cause: err });
    const msg = `sftp storage: could not ${action} ${where}: ${errorMessage(err)}`;
    if (isTransient(err)) return new TransientError(msg, { cause: err });
    return new PermanentError(msg, { cause: err });
  }

  private describeRemote(path: string): string {
    const t = this.cfg.target;
    return `sftp://${t.user}@${t.host}${t.port === 22 ? '' : `:${t.port}`}${path.startsWith('/') ? '' : '/~/'}${path}`;
  }

  /**
   * The mode a put creates its file with (see PutOptions.mode), and whether it was asked for (`mode:`, `--mode`) and so
   * is set with chmod. The 0600 default is only asked for at the open, as before `mode:` existed: some SFTP servers
   * refuse SETSTAT, and a backup must not start failing there.
   */
  private modeFor(requested: FileMode | undefined): { mode: FileMode; exact: boolean } {
    if (typeof requested === 'number') return { mode: requested, exact: true };
    if (this.cfg.mode !== undefined) return { mode: this.cfg.mode, exact: true };
    return { mode: requested === 'umask' ? 'umask' : BACKUP_MODE, exact: false };
  }

  /**
   * Creates the missing folders of `dir`. Folders for files of a mode get that mode with search bits where it gives
   * read (0600 → 0700, 0640 → 0750), set with chmod when `exact`; for 'umask' the server decides (0777 less its umask),
   * as for the files.
   */
  private async mkdirs(c: Conn, dir: string, mode: FileMode, exact: boolean): Promise<void> {
    if (!dir || dir === '.' || dir === '/') return;
    try {
      const st = await sftpCall<Stats>(c, (sftp, cb) => sftp.stat(dir, cb));
      if (!st.isDirectory()) throw new PermanentError(`sftp storage: ${this.describeRemote(dir)} exists and is not a folder.`);
      return;
    } catch (err) {
      if ((err as { code?: unknown }).code !== NO_SUCH_FILE) throw this.fail(err, 'check folder', dir);
    }
    await this.mkdirs(c, posix.dirname(dir), mode, exact);
    try {
      await sftpCall<void>(c, (sftp, cb) =>
        mode === 'umask' ? sftp.mkdir(dir, (e) => cb(e, undefined)) : sftp.mkdir(dir, { mode: folderModeFor(mode) }, (e) => cb(e, undefined)),
      );
    } catch (err) {
      // Another upload may have created it meanwhile (OpenSSH then answers a bare "Failure"). If the check itself
      // fails other than with "no such file" (the connection dropped), that is the fault to report: it is
      // transient and retried, where the bare "Failure" would read as permanent and fail the file.
      let st: Stats | undefined;
      try {
        st = await sftpCall<Stats>(c, (sftp, cb) => sftp.stat(dir, cb));
      } catch (statErr) {
        if ((statErr as { code?: unknown }).code !== NO_SUCH_FILE) throw this.fail(statErr, 'check folder', dir);
      }
      if (!st?.isDirectory()) throw this.fail(err, 'create folder', dir);
      return; // someone else's folder: its mode is theirs
    }
    // The server's umask may have taken bits away.
    if (exact && mode !== 'umask') {
      await sftpCall<void>(c, (sftp, cb) => sftp.chmod(dir, folderModeFor(mode), (e) => cb(e, undefined))).catch((err: unknown) => {
        throw this.fail(err, 'set the mode of folder', dir);
      });
    }
  }

  async put(key: string, body: Readable, opts: PutOptions = {}): Promise<StoredObject> {
    const finalPath = this.pathOf(key);
    const partial = finalPath + PARTIAL_SUFFIX;
    const where = this.describeRemote(finalPath);
    const stats: SftpUploadStats = { reconnects: 0, bytesSent: 0, resumedAt: [], flushes: 0 };
    this.lastUpload = stats;
    const signal = opts.signal;
    signal?.throwIfAborted();
    // sha256 costs CPU on the one core that also encrypts: only when something will check it.
    const hash = opts.sha256 || this.cfg.sha256sum ? createHash('sha256') : undefined;
    let chunkSize = 0; // known once connected
    // 16 × 128 KiB = 2 MiB in flight: OpenSSH's channel window (and what OpenSSH sftp keeps in flight, 64 × 32 KiB).
    // More only waits in ssh2's queue for the window, and those buffers live long enough to reach V8's old space:
    // 1 GiB to a local sshd measured 440–510 MB/s at 16 in most runs, and 250 MB/s with major GCs in most runs at 32.
    const concurrency = Math.max(1, this.cfg.concurrency ?? 16);
    const { mode, exact } = this.modeFor(opts.mode);

    let conn!: Conn;
    let handle!: Buffer;
    const flushEvery = this.cfg.flushEvery ?? FLUSH_BEHIND_EVERY;
    const flusher = flushEvery > 0
      ? new FlushBehind(partial, flushEvery, () => stats.flushes++, (m) => this.cfg.log?.debug(`sftp storage: ${where}: ${m}`))
      : undefined;
    /** Writes sent but not acknowledged, by offset: exactly what a reconnect must resend. */
    const unacked = new Map<number, Buffer>();
    const pool: Buffer[] = [];
    let ackedBytes = 0;
    let writeError: unknown;
    const { wait: waitForEvent, notify } = waker();
    /** Waits for an acknowledgement or a dropped connection; false when nothing happened for STALL_MS. */
    const waitForEventOrStall = async (): Promise<boolean> => {
      let timer: NodeJS.Timeout | undefined;
      const stalled = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), STALL_MS)));
      try {
        return await Promise.race([waitForEvent().then(() => true), stalled]);
      } finally {
        clearTimeout(timer);
      }
    };

    const hooked = new Set<Conn>();
    const openPartial = async (flags: 'w' | 'r+') => {
      conn = await this.connection();
      // A connection that dies wakes the writer, which would otherwise wait for acknowledgements that never come.
      if (!hooked.has(conn)) {
        hooked.add(conn);
        conn.onLost.add(notify);
      }
      await this.mkdirs(conn, posix.dirname(finalPath), mode, exact);
      try {
        // No permissions in the request for 'umask': sftp-server then creates the file 0666 less its umask, as for the Go
        // tool's client. An explicit mode is asked for here and set exactly at the commit (fchmod), before the rename.
        handle = await sftpCall<Buffer>(conn, (sftp, cb) => (mode === 'umask' ? sftp.open(partial, flags, cb) : sftp.open(partial, flags, { mode }, cb)));
      } catch (err) {
        throw this.fail(err, 'open', partial);
      }
    };
    const closeHandle = async () => {
      if (!conn.dead && handle) await sftpCall<void>(conn, (sftp, cb) => sftp.close(handle, (e) => cb(e, undefined))).catch(() => undefined);
    };

    const send = (offset: number, buf: Buffer) => {
      stats.bytesSent += buf.length;
      const c = conn;
      c.sftp.write(handle, buf, 0, buf.length, offset, (err) => {
        if (c !== conn) return; // a write of a connection already given up; it is resent on the new one
        if (err) {
          writeError ??= err;
        } else if (unacked.delete(offset)) {
          ackedBytes += buf.length;
          if (buf.length === chunkSize) pool.push(buf);
          opts.onProgress?.(ackedBytes);
          flusher?.poke(c, ackedBytes);
        }
        notify();
      });
    };

    /** After a dropped connection: reconnect, reopen the partial file and resend every unacknowledged write. */
    const recover = async (cause: unknown) => {
      const lowest = Math.min(...unacked.keys());
      await retry(
        async () => {
          signal?.throwIfAborted();
          this.drop(conn);
          this.cfg.log?.debug(`sftp storage: ${where}: reconnecting after ${errorMessage(cause)}`);
          await openPartial('r+');
          this.cfg.log?.debug(`sftp storage: ${where}: partial file reopened`);
          // Errors reported by the old connection while reopening are settled by the resend below.
          writeError = undefined;
          const st = await sftpCall<Stats>(conn, (sftp, cb) => sftp.fstat(handle, cb));
          // Acknowledged bytes are on the server; anything below the lowest unacknowledged write must be there.
          if (unacked.size && st.size < lowest) {
            throw new PermanentError(`sftp storage: ${partial} on the server has ${st.size} bytes but ${lowest} were acknowledged; the server lost data, run the job again.`);
          }
          stats.reconnects++;
          stats.resumedAt.push(unacked.size ? lowest : ackedBytes);
          this.cfg.log?.warn(`sftp storage: connection to ${where} dropped (${errorMessage(cause)}); resumed at byte ${unacked.size ? lowest : ackedBytes}`);
          for (const [off, buf] of [...unacked].sort((a, b) => a[0] - b[0])) send(off, buf);
        },
        {
          policy: this.retryPolicy,
          signal,
          onRetry: (err, attempt, delay) => this.cfg.log?.warn(`sftp storage: reconnecting to ${where} failed (${errorMessage(err)}); retry ${attempt} in ${delay} ms`),
        },
      );
    };

    // maxattempts counts faults in a row: progress since the last fault starts the count again.
    const faultCount = { n: 0, ackedAtLastFault: -1 };
    /** Waits until fewer than `limit` writes are in flight, recovering from dropped connections on the way. */
    const drainTo = async (limit: number) => {
      while (unacked.size > limit || writeError) {
        signal?.throwIfAborted();
        if (writeError) {
          const err = writeError;
          if (!isTransient(err) && !conn.dead) throw this.fail(err, 'write', partial);
          if (ackedBytes > faultCount.ackedAtLastFault) faultCount.n = 0;
          faultCount.ackedAtLastFault = ackedBytes;
          faultCount.n++;
          if (faultCount.n > this.retryPolicy.attempts) throw this.fail(err, 'write', partial);
          await recover(err);
          continue;
        }
        // A dead connection leaves its writes unanswered for a while; do not wait for "No response from server".
        if (conn.dead) {
          writeError = connectionLost('the SSH connection closed');
          continue;
        }
        // A connection that neither answers nor closes (a half-open TCP path) must not hang the job: after STALL_MS
        // without an acknowledgement it is given up and the unacknowledged writes are resent on a new one.
        const before = ackedBytes;
        if (!(await waitForEventOrStall()) && ackedBytes === before && unacked.size > 0 && !writeError) {
          writeError = connectionLost(`no acknowledgement from the server for ${STALL_MS / 1000} s`);
          this.drop(conn);
        }
      }
    };

    let total = 0;
    // An abort (or a failure below) also stops the reading of the stream, and wakes a writer waiting for acks.
    if (signal) addAbortSignal(signal, body);
    signal?.addEventListener('abort', notify);
    try {
      // Resume an earlier interrupted upload: skip what the partial file already holds (hashing it on the way).
      let skip = 0;
      if (opts.resume) {
        conn = await this.connection();
        const st = await sftpCall<Stats>(conn, (sftp, cb) => sftp.stat(partial, cb)).catch((err: unknown) => {
          // Only a missing partial file means "start from zero"; anything else must not truncate what is there.
          if ((err as { code?: unknown }).code === NO_SUCH_FILE) return undefined;
          throw this.fail(err, 'check', partial);
        });
        skip = st?.size ?? 0;
      }
      await openPartial(skip > 0 ? 'r+' : 'w');
      chunkSize = this.chunkSizeFor(conn.sftp);
      if (skip > 0) stats.resumedAt.push(skip);
      // The stream is copied into a fixed set of chunk-sized slabs, each kept until the server acknowledges its write
      // and then reused: memory stays at concurrency × chunkSize and the garbage collector has little to do.
      let slab: Buffer | undefined;
      let slabLen = 0;
      let offset = 0;
      const submit = async () => {
        if (!slab || slabLen === 0) return;
        const piece = slabLen === chunkSize ? slab : slab.subarray(0, slabLen);
        slab = undefined;
        slabLen = 0;
        await drainTo(concurrency - 1);
        unacked.set(offset, piece);
        send(offset, piece);
        offset += piece.length;
      };
      for await (let chunk of pushedChunks(body)) {
        signal?.throwIfAborted();
        hash?.update(chunk);
        total += chunk.length;
        if (skip > 0) {
          const drop = Math.min(skip, chunk.length);
          skip -= drop;
          offset += drop;
          ackedBytes += drop;
          chunk = chunk.subarray(drop);
          if (!chunk.length) continue;
        }
        for (let off = 0; off < chunk.length; ) {
          slab ??= pool.pop() ?? Buffer.allocUnsafeSlow(chunkSize);
          const n = chunk.copy(slab, slabLen, off, Math.min(chunk.length, off + chunkSize - slabLen));
          slabLen += n;
          off += n;
          if (slabLen === chunkSize) await submit();
        }
      }
      signal?.throwIfAborted();
      if (skip > 0) throw new PermanentError(`sftp storage: ${partial} holds more bytes than the source has; delete it and run again.`);
      await submit();
      await drainTo(0);
      this.cfg.log?.debug(`sftp storage: ${where}: all ${total} bytes acknowledged; committing`);
      if (total === 0) opts.onProgress?.(0);
      const digest = hash?.digest('hex');
      if (opts.sha256 && digest !== opts.sha256) throw new PermanentError(`sftp storage: ${where} does not match the expected sha256 (${digest} ≠ ${opts.sha256}); nothing was stored.`);
      if (opts.size !== undefined && opts.size !== total) throw new PermanentError(`sftp storage: ${where} got ${total} bytes, expected ${opts.size}; nothing was stored.`);
      await this.commit(conn, handle, partial, finalPath, total, digest, exact ? mode : 'umask');
      handle = undefined as unknown as Buffer;
      this.cfg.log?.debug(`sftp storage: ${where}: stored`);
      return { key, size: total, location: where, hash: digest ? { algorithm: 'sha256', value: digest } : undefined };
    } catch (err) {
      const e = signal?.aborted ? signal.reason : err;
      if (conn && handle) {
        // Clean-up is bounded: on a stalled connection it would wait forever. A connection that does not answer in
        // time is dropped (the next use reconnects).
        const cleanup = (async () => {
          await closeHandle();
          // A partial file is kept only when the caller will resume it; a dump is never re-read, so remove it.
          if (!opts.resume && !conn.dead) await sftpCall<void>(conn, (sftp, cb) => sftp.unlink(partial, (x) => cb(x, undefined))).catch(() => undefined);
          return true;
        })();
        const done = await Promise.race([cleanup, new Promise<false>((r) => setTimeout(r, signal?.aborted ? 1_000 : 10_000, false).unref())]);
        if (!done) this.drop(conn);
      }
      throw e instanceof Error && !(e instanceof OnedumpError) && !signal?.aborted ? this.fail(e, 'upload', finalPath) : e;
    } finally {
      flusher?.release();
      // The connection outlives this upload (sync sends many files over one): leave no listener behind.
      for (const c of hooked) c.onLost.delete(notify);
      signal?.removeEventListener('abort', notify);
    }
  }

  /** fsync, check size (and sha256sum), then rename over the final name — atomically where the server can. */
  /** `chmod`: the mode asked for, set exactly; 'umask' = leave the mode as the open made it. */
  private async commit(conn: Conn, handle: Buffer, partial: string, finalPath: string, size: number, digest: string | undefined, chmod: FileMode): Promise<void> {
    const ext = (conn.sftp as unknown as { _extensions: Record<string, string> })._extensions ?? {};
    try {
      // The server's umask may have taken bits away at the open, and a resumed partial file kept its old mode.
      if (chmod !== 'umask') {
        await sftpCall<void>(conn, (sftp, cb) => sftp.fchmod(handle, chmod, (e) => cb(e, undefined))).catch((err: unknown) => {
          if (isTransient(err) || conn.dead) throw err;
          throw new PermanentError(`sftp storage: the server refused to set mode ${formatMode(chmod)} on ${this.describeRemote(partial)} (${errorMessage(err)}); remove mode: (or --mode) for this server.`, { cause: err });
        });
      }
      if (ext['fsync@openssh.com'] === '1') await sftpCall<unknown>(conn, (sftp, cb) => sftp.ext_openssh_fsync(handle, cb));
      this.cfg.log?.debug(`sftp storage: ${this.describeRemote(partial)}: fsynced`);
      const st = await sftpCall<Stats>(conn, (sftp, cb) => sftp.fstat(handle, cb));
      await sftpCall<void>(conn, (sftp, cb) => sftp.close(handle, (e) => cb(e, undefined)));
      if (st.size !== size) throw new PermanentError(`sftp storage: ${this.describeRemote(partial)} has ${st.size} bytes after upload, ${size} were sent; run the job again.`);
    } catch (err) {
      throw this.fail(err, 'finish', partial);
    }
    if (this.cfg.sha256sum) {
      const out = new PassThrough();
      let text = '';
      out.on('data', (d: Buffer) => (text += d.toString()));
      const r = await conn.session.run(`sha256sum -- ${shellQuote(partial)}`, { stdout: out });
      const remote = /^([0-9a-f]{64})\b/.exec(text)?.[1];
      if (r.code !== 0 || !remote) {
        throw new PermanentError(`sftp storage: sha256sum on ${this.describeRemote(partial)} failed (${r.stderr.trim() || `exit ${r.code}`}); install coreutils on the server or set sha256sum: false.`);
      }
      if (remote !== digest) throw new PermanentError(`sftp storage: ${this.describeRemote(partial)} has sha256 ${remote} on the server but ${digest} was sent; run the job again.`);
    }
    try {
      if (ext['posix-rename@openssh.com'] === '1') {
        await sftpCall<void>(conn, (sftp, cb) => sftp.ext_openssh_rename(partial, finalPath, (e) => cb(e, undefined)));
      } else {
        // Plain SFTP rename refuses to replace: remove the old file first (a short window without one).
        await sftpCall<void>(conn, (sftp, cb) => sftp.unlink(finalPath, (e) => cb(e, undefined))).catch(() => undefined);
        await sftpCall<void>(conn, (sftp, cb) => sftp.rename(partial, finalPath, (e) => cb(e, undefined)));
      }
    } catch (err) {
      throw this.fail(err, 'rename into place', finalPath);
    }
  }

  async get(key: string, opts: { signal?: AbortSignal; start?: number } = {}): Promise<Readable> {
    const p = this.pathOf(key);
    const c = await this.wrap('download', p, () => this.connection());
    const st = await this.stat(key);
    if (!st) throw new PermanentError(`sftp storage: ${this.describeRemote(p)} does not exist.`);
    if (c.dead) throw new TransientError(`sftp storage: the SSH connection to ${this.describeRemote(p)} was lost; try again.`);
    const stream = c.sftp.createReadStream(p, { start: opts.start ?? 0, highWaterMark: 256 * 1024 });
    // A read issued on a lost connection is never answered: end the stream with the loss instead.
    const onLost = (err: Error) => stream.destroy(err);
    c.onLost.add(onLost);
    stream.once('close', () => c.onLost.delete(onLost));
    // After the last byte, ssh2 closes the remote handle; if the connection is closed first, that close fails with
    // "No response from server" on a stream nobody listens to any more. Nothing is lost then: ignore it.
    stream.once('end', () => stream.on('error', () => undefined));
    if (opts.signal) {
      const onAbort = () => stream.destroy(opts.signal!.reason as Error);
      opts.signal.addEventListener('abort', onAbort, { once: true });
      stream.once('close', () => opts.signal!.removeEventListener('abort', onAbort));
    }
    return stream as unknown as Readable;
  }

  private async wrap<T>(action: string, path: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.fail(err, action, path);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const slash = prefix.lastIndexOf('/');
    const dirKey = slash >= 0 ? prefix.slice(0, slash) : '';
    const c = await this.wrap('list', this.pathOf(dirKey), () => this.connection());
    yield* this.walk(c, dirKey, prefix);
  }

  private async *walk(c: Conn, dirKey: string, prefix: string): AsyncIterable<ObjectInfo> {
    const dir = dirKey ? this.pathOf(dirKey) : this.cfg.root || '.';
    let entries;
    try {
      entries = await sftpCall<{ filename: string; attrs: Stats }[]>(c, (sftp, cb) => sftp.readdir(dir, cb));
    } catch (err) {
      if ((err as { code?: unknown }).code === NO_SUCH_FILE) return;
      throw this.fail(err, 'list', dir);
    }
    entries.sort((a, b) => (a.filename < b.filename ? -1 : a.filename > b.filename ? 1 : 0));
    for (const e of entries) {
      if (e.filename === '.' || e.filename === '..') continue;
      const key = dirKey ? `${dirKey}/${e.filename}` : e.filename;
      if (e.attrs.isDirectory()) {
        if (key.startsWith(prefix) || prefix.startsWith(key + '/')) yield* this.walk(c, key, prefix);
      } else if (e.attrs.isFile() && key.startsWith(prefix) && !e.filename.endsWith(PARTIAL_SUFFIX)) {
        yield { key, size: e.attrs.size, modified: new Date(e.attrs.mtime * 1000) };
      }
    }
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    const p = this.pathOf(key);
    const c = await this.wrap('stat', p, () => this.connection());
    try {
      const st = await sftpCall<Stats>(c, (sftp, cb) => sftp.stat(p, cb));
      return st.isFile() ? { key, size: st.size, modified: new Date(st.mtime * 1000) } : undefined;
    } catch (err) {
      if ((err as { code?: unknown }).code === NO_SUCH_FILE) return undefined;
      throw this.fail(err, 'stat', p);
    }
  }

  /** Whether the key names an existing remote folder (sync decides file-or-folder destinations with it). */
  async isFolder(key: string): Promise<boolean> {
    const p = this.pathOf(key);
    const c = await this.wrap('stat', p, () => this.connection());
    try {
      return (await sftpCall<Stats>(c, (sftp, cb) => sftp.stat(p, cb))).isDirectory();
    } catch (err) {
      if ((err as { code?: unknown }).code === NO_SUCH_FILE) return false;
      throw this.fail(err, 'stat', p);
    }
  }

  async delete(key: string): Promise<void> {
    const p = this.pathOf(key);
    const c = await this.wrap('delete', p, () => this.connection());
    try {
      await sftpCall<void>(c, (sftp, cb) => sftp.unlink(p, (e) => cb(e, undefined)));
    } catch (err) {
      if ((err as { code?: unknown }).code !== NO_SUCH_FILE) throw this.fail(err, 'delete', p);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const c = this.conn;
    this.conn = undefined;
    if (c) await c.then((x) => x.session.close(), () => undefined);
  }
}

const sftpOptions = z.strictObject({
  path: str({ description: 'Remote path of the backup (absolute, or relative to the login folder).', example: '/var/backups/app.sql', go: true }),
  ...sshFields,
  maxattempts: described(z.number().int().min(0).optional(), {
    description: `Attempts per fault in a row before giving up (progress resets the count). Unset: ${DEFAULT_RETRY.attempts}, about a minute of outage; 0: unlimited, as the Go tool (the job then waits for the host for as long as its timeout allows).`,
    example: 10,
  }),
  sha256sum: bool({ description: 'After upload, run sha256sum on the server over SSH and compare with the sha256 of the bytes sent.', example: true }).optional(),
  keep: keepField('in the remote folder'),
  mode: modeField(
    'Permission bits of the remote backup file, an octal string in quotes (`mode: "0640"` lets the group read it); set exactly, whatever the server\'s umask. Also used by `onedump sync --storage` to this entry. Folders onedump creates get the matching search bits ("0640" → 0750). Default "0600" (folders 0700): backups hold data (the Go tool left the mode to the server: usually 0644).',
  ),
});
export type SftpOptions = z.infer<typeof sftpOptions>;

function rootAndKey(path: string): { root: string; key: string } {
  if (path.endsWith('/')) return { root: path.replace(/\/+$/, '') || '/', key: '' };
  const dir = posix.dirname(path);
  return { root: dir === '.' ? '' : dir, key: posix.basename(path) };
}

/** Unset is bounded so an unreachable host cannot hang a nightly job forever; 0 is the Go tool's "unlimited". */
function sftpAttempts(v: number | undefined): number {
  return v === undefined ? DEFAULT_RETRY.attempts : v === 0 ? Infinity : v;
}

const URL_PARAMS = ['sshkey', 'sshpassphrase', 'sshknownhosts', 'sshhostkey', 'maxattempts', 'sha256sum', 'mode'] as const;

/** The first of the usual identities in ~/.ssh, as ssh(1) would try them. */
function defaultIdentity(): string | undefined {
  return ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((n) => `${homedir()}/.ssh/${n}`).find((p) => existsSync(p));
}

export const sftpBackend: StorageBackend<SftpOptions> = {
  kind: 'sftp',
  summary: 'A file on an SSH server (written as path.partial, resumed by appending, renamed).',
  options: sftpOptions,
  schemes: ['sftp'],
  fromConfig(o, ctx) {
    const what = `sftp storage ${sftpBackend.describe(o)}`;
    const { root, key } = rootAndKey(o.path);
    const storage = new SftpStorage({
      target: sshTarget(o, what),
      root,
      maxAttempts: sftpAttempts(o.maxattempts),
      sha256sum: o.sha256sum,
      mode: modeBits(o.mode),
      log: ctx.log,
    });
    return { storage, key };
  },
  fromUrl(url, ctx, extra) {
    const raw: Record<string, unknown> = { ...extra };
    for (const [k, v] of url.searchParams) {
      if (!(URL_PARAMS as readonly string[]).includes(k)) throw new UsageError(`unknown parameter "${k}" in ${url.origin}${url.pathname}; known: ${URL_PARAMS.join(', ')}.`);
      if (k === 'sshkey' && /PRIVATE KEY/.test(v)) throw new UsageError('sftp URLs take a key file path in sshkey=, never the key itself.');
      raw[k] = k === 'maxattempts' ? Number(v) : k === 'sha256sum' ? v !== 'false' && v !== '0' : v;
    }
    const sshkey = (raw.sshkey as string | undefined) ?? defaultIdentity();
    if (!sshkey) throw new UsageError(`${url.origin}${url.pathname}: no SSH key; pass sshkey=PATH or put a key in ~/.ssh (id_ed25519, id_ecdsa, id_rsa).`);
    const path = decodeURIComponent(url.pathname) || '/';
    const hostport = url.port ? `${url.hostname}:${url.port}` : url.hostname;
    const parsed = sftpOptions.safeParse({
      path,
      sshhost: hostport,
      sshuser: decodeURIComponent(url.username) || userInfo().username,
      ...raw,
      sshkey,
    });
    if (!parsed.success) throw new UsageError(`${url.origin}${url.pathname}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}.`);
    const o = parsed.data;
    const { root, key } = rootAndKey(o.path);
    const storage = new SftpStorage({
      target: sshTarget(o, `sftp storage ${url.origin}${url.pathname}`),
      root,
      maxAttempts: sftpAttempts(o.maxattempts),
      sha256sum: o.sha256sum,
      mode: modeBits(o.mode),
      log: ctx.log,
    });
    return { storage, key };
  },
  describe(o) {
    const { host, port } = splitHostPort(o.sshhost, o.sshport);
    return `sftp://${o.sshuser}@${host}${port === 22 ? '' : `:${port}`}${o.path.startsWith('/') ? '' : '/~/'}${o.path}`;
  },
};
