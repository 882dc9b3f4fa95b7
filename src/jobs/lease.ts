import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import type { JobConfig } from '../config/schema.js';
import type { ConditionalWrites, Destination, Storage, VersionedObject } from '../storage/types.js';
import type { Logger } from '../util/logger.js';
import { formatDuration, parseDuration } from '../util/duration.js';
import { errorMessage, OnedumpError, UsageError } from '../util/errors.js';
import { DEFAULT_RETRY, retry, type RetryPolicy } from '../util/retry.js';
import { VERSION } from '../version.js';
import { LockHeldError } from './lock.js';

/**
 * A job's lease: a small JSON object next to its backups on one destination that has conditional writes (S3), so that
 * two hosts, or two pods of a double-fired CronJob, never run the job at once. Every step is a compare-and-swap the
 * store decides, so of several runs racing only one wins:
 *
 * - taken by creating the object with If-None-Match: * (fails when it exists);
 * - renewed every ttl/6 by replacing it with If-Match: <its etag> (fails when someone took it over);
 * - released by deleting it with If-Match: <its etag>;
 * - taken over when it has not been renewed for its TTL, by replacing it with If-Match: <the stale etag>: of two
 *   runs taking over at once, only one replaces the version both saw.
 *
 * Staleness is judged by the store's clock (S3: the response's Date minus the object's Last-Modified), so hosts whose
 * clocks disagree still agree; a store that gives no date falls back to the heartbeat written in the lease.
 */
export interface LeaseDoc {
  /** A token of the run holding it (random per run). */
  owner: string;
  job: string;
  host: string;
  pid: number;
  started: string;
  heartbeat: string;
  /** The holder's TTL: a lease not renewed for this long is stale. */
  ttlMs: number;
  onedump: string;
}

/** `NAME.lease.json` next to the job's configured file: never listed as a backup (manifest.ts isSidecar). */
export const LEASE_SUFFIX = '.lease.json';
export const DEFAULT_LEASE_TTL = 120_000;
export const MIN_LEASE_TTL = 1_000;

export interface LeaseOptions {
  ttlMs?: number;
  /** How long to wait for a held lease (ms; 0 = do not wait). */
  waitMs?: number;
  pollMs?: number;
  signal?: AbortSignal;
  log?: Logger;
  onTakeover?: (stale: LeaseDoc | undefined) => void;
  /** Transient faults of the store (a dropped connection) are retried with this policy (default the storage's). */
  retryPolicy?: Partial<RetryPolicy>;
}

export interface JobLease {
  readonly location: string;
  /** Aborted, with a LeaseLostError, when the lease was taken over (or could not be renewed within its TTL). */
  readonly lost: AbortSignal;
  release(): Promise<void>;
}

export class LeaseHeldError extends LockHeldError {
  constructor(job: string, location: string, holder: LeaseDoc | undefined, waitedMs: number) {
    super(job, undefined, waitedMs);
    const who = holder ? ` (pid ${holder.pid} on ${holder.host}, since ${holder.started})` : '';
    const waited = waitedMs > 0 ? ` after waiting ${formatDuration(waitedMs)}` : '';
    this.message = `another run of job "${job}" holds its lease ${location}${who}; this run is skipped${waited}`;
  }
}

export class LeaseLostError extends OnedumpError {}

/** The job's lease settings: undefined when it has none (no `lock.lease`). */
export function leaseSettings(job: JobConfig): { destination: true | string; ttlMs: number } | undefined {
  const l = job.lock;
  if (!l?.lease) return undefined;
  const ttlMs = l.ttl !== undefined ? (parseDuration(l.ttl) ?? DEFAULT_LEASE_TTL) : DEFAULT_LEASE_TTL;
  return { destination: l.lease, ttlMs };
}

/**
 * Which destination holds the lease: `lease: true` the job's first destination with conditional writes (its first
 * s3 entry), `lease: s3[1]` that one. Anything else is refused when the config is loaded (schema.ts); this repeats the
 * check for configs built otherwise.
 */
export function leaseTarget<T extends { name: string; kind: string }>(job: string, targets: readonly T[], choice: true | string, conditionalKinds: readonly string[]): T {
  const t = choice === true ? targets.find((x) => conditionalKinds.includes(x.kind)) : targets.find((x) => x.name === choice);
  if (!t || !conditionalKinds.includes(t.kind)) {
    throw new UsageError(
      `job "${job}": lock.lease needs ${choice === true ? 'a destination' : `${choice} to be a destination`} with conditional writes (${conditionalKinds.join(', ')}); local, sftp, gdrive and dropbox have none here (the local lock already covers one host).`,
    );
  }
  return t;
}

function parseLease(body: Buffer): LeaseDoc | undefined {
  try {
    const d = JSON.parse(body.toString('utf8')) as LeaseDoc;
    return typeof d.owner === 'string' && typeof d.pid === 'number' && typeof d.heartbeat === 'string' ? d : undefined;
  } catch {
    return undefined;
  }
}

/** How long the lease has gone unrenewed: the store's age where it gives one, else by the heartbeat it holds. */
function ageOf(cur: VersionedObject, doc: LeaseDoc | undefined): number {
  if (cur.ageMs !== undefined) return cur.ageMs;
  const beat = doc ? Date.parse(doc.heartbeat) : NaN;
  return Number.isFinite(beat) ? Date.now() - beat : Infinity; // damaged and undated: nobody can be renewing it
}

export async function acquireLease(job: string, dest: Destination, opts: LeaseOptions = {}): Promise<JobLease> {
  const storage: Storage = dest.storage;
  const cw: ConditionalWrites | undefined = storage.conditional;
  const key = dest.key + LEASE_SUFFIX;
  const location = storage.describe(key);
  if (!cw) throw new UsageError(`job "${job}": ${storage.kind} storage has no conditional writes, so the lease cannot be kept at ${location}.`);
  const ttl = Math.max(MIN_LEASE_TTL, opts.ttlMs ?? DEFAULT_LEASE_TTL);
  const policy = { ...DEFAULT_RETRY, ...storage.retryPolicy, ...opts.retryPolicy };
  const op = <T>(what: string, fn: () => Promise<T>) =>
    retry(fn, { policy, signal: opts.signal, onRetry: (err, n, ms) => opts.log?.warn(`job "${job}": ${what} the lease ${location} failed (${errorMessage(err)}); retry ${n} in ${ms} ms`) });
  const me: LeaseDoc = { owner: randomUUID(), job, host: hostname(), pid: process.pid, started: new Date().toISOString(), heartbeat: '', ttlMs: ttl, onedump: VERSION };
  const body = () => Buffer.from(JSON.stringify({ ...me, heartbeat: new Date().toISOString() }) + '\n');
  const started = Date.now();
  let etag: string | undefined;
  for (;;) {
    opts.signal?.throwIfAborted();
    etag = await op('creating', () => cw.createIfAbsent(key, body(), opts.signal));
    if (etag !== undefined) break;
    const cur = await op('reading', () => cw.read(key, opts.signal));
    if (!cur) continue; // released in between: create again
    const held = parseLease(cur.body);
    if (held?.owner === me.owner) {
      // Our own create, whose answer was lost and whose retry found it.
      etag = cur.etag;
      break;
    }
    if (ageOf(cur, held) > (held?.ttlMs ?? ttl)) {
      etag = await op('taking over', () => cw.replaceIf(key, cur.etag, body(), opts.signal));
      if (etag !== undefined) {
        opts.onTakeover?.(held);
        break;
      }
      continue; // another run took it over first (or it was released): look again
    }
    const waited = Date.now() - started;
    if (waited >= (opts.waitMs ?? 0)) throw new LeaseHeldError(job, location, held, opts.waitMs ? waited : 0);
    await delay(Math.min(opts.pollMs ?? 1000, Math.max(1, (opts.waitMs ?? 0) - waited)), undefined, { signal: opts.signal });
  }

  const lostCtl = new AbortController();
  let current: string = etag;
  let renewedAt = Date.now();
  let beating: Promise<void> | undefined;
  let released = false;
  const lose = (why: string) => {
    if (lostCtl.signal.aborted) return;
    const err = new LeaseLostError(`job "${job}" lost its lease ${location}: ${why}; this run is stopped so that two runs never write at once.`);
    opts.log?.error(err.message);
    lostCtl.abort(err);
  };
  const beat = async () => {
    try {
      const next = await cw.replaceIf(key, current, body());
      if (next !== undefined) {
        current = next;
        renewedAt = Date.now();
        return;
      }
      // The condition failed: someone else's lease now, or ours written by a renewal whose answer was lost.
      const cur = await cw.read(key);
      const doc = cur && parseLease(cur.body);
      if (cur && doc?.owner === me.owner) {
        current = cur.etag;
        renewedAt = Date.now();
        return;
      }
      lose(doc ? `it was taken over by pid ${doc.pid} on ${doc.host} (since ${doc.started})` : 'it was deleted by someone else');
    } catch (err) {
      if (released) return;
      opts.log?.warn(`job "${job}": renewing the lease ${location} failed (${errorMessage(err)}); trying again in ${formatDuration(ttl / 6)}`);
      if (Date.now() - renewedAt > ttl) lose(`it could not be renewed for ${formatDuration(Date.now() - renewedAt)}, longer than its TTL (${formatDuration(ttl)})`);
    }
  };
  const timer = setInterval(
    () => {
      if (beating || released || lostCtl.signal.aborted) return;
      beating = beat().finally(() => (beating = undefined));
    },
    Math.max(100, Math.floor(ttl / 6)),
  );
  timer.unref();
  return {
    location,
    lost: lostCtl.signal,
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      await beating;
      if (lostCtl.signal.aborted) return; // not ours any more: leave the new holder's lease alone
      try {
        if (!(await cw.deleteIf(key, current))) opts.log?.warn(`job "${job}": the lease ${location} changed before it was released; left as it is.`);
      } catch (err) {
        // Stores without conditional deletes: delete it if it is still exactly ours (a tiny window remains).
        try {
          const cur = await cw.read(key);
          if (cur?.etag === current) await storage.delete(key);
        } catch {
          opts.log?.warn(`job "${job}": the lease ${location} could not be released (${errorMessage(err)}); it expires after ${formatDuration(ttl)}.`);
        }
      }
    },
  };
}
