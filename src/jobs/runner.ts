import type { LoadedConfig } from '../config/load.js';
import type { JobConfig } from '../config/schema.js';
import type { JobEvent, JobResult, Notifier } from '../notify/types.js';
import type { Logger } from '../util/logger.js';
import { prepareJob, runPreparedJob, type PreparedJob } from './job.js';
import { mapSettled } from '../util/concurrency.js';
import { errorMessage, EXIT, UsageError } from '../util/errors.js';
import { acquireJobLock, LockHeldError, type JobLock } from './lock.js';
import { acquireLease, LEASE_SUFFIX, leaseSettings, leaseTarget, type JobLease } from './lease.js';
import { storageBackends } from '../storage/registry.js';
import { parseDuration } from '../util/duration.js';
import { ping } from './healthcheck.js';
import { redactValue } from '../util/redact.js';

export interface RunOptions {
  log: Logger;
  notifiers: Notifier[];
  signal?: AbortSignal;
  /** Only these jobs (--job NAME); all when empty. */
  jobNames?: string[];
  /** Live byte counts per job, for the TTY progress display. */
  onProgress?: (job: string, bytes: number) => void;
  now?: () => Date;
  /** How often progress events go to notifiers (ms). */
  progressEveryMs?: number;
  /** The per-job run lock (src/jobs/lock.ts): where, and how long to wait for it; false = no lock (--no-lock). */
  lock?: false | { dir?: string; waitMs?: number };
}

export interface RunSummary {
  results: JobResult[];
  /** Notifier deliveries that failed after retries (the Go tool's exit code reflected these). */
  notificationFailures: number;
}

export function selectJobs(loaded: LoadedConfig, names: string[] = []): JobConfig[] {
  if (!names.length) return loaded.config.jobs;
  const unknown = names.filter((n) => !loaded.config.jobs.some((j) => j.name === n));
  if (unknown.length) {
    throw new UsageError(
      `no job named ${unknown.map((n) => `"${n}"`).join(', ')} in ${loaded.source} (jobs: ${loaded.config.jobs.map((j) => j.name).join(', ')}).`,
    );
  }
  return loaded.config.jobs.filter((j) => names.includes(j.name));
}

/** Builds every selected job first: anything not buildable fails the whole run with exit 2 before a job starts. */
export function prepareJobs(loaded: LoadedConfig, jobs: JobConfig[], log: Logger): PreparedJob[] {
  return jobs.map((job) => {
    const dsn = loaded.dsns.get(job.name);
    if (!dsn) throw new UsageError(`job "${job.name}" has no valid DSN.`);
    return prepareJob(job, dsn, log);
  });
}

/**
 * Runs the selected jobs with `maxjobs` concurrency (1 in sequential mode). One job's failure never stops the
 * others; every outcome goes to every notifier.
 */
export async function runJobs(loaded: LoadedConfig, opts: RunOptions): Promise<RunSummary> {
  const jobs = selectJobs(loaded, opts.jobNames);
  const prepared = prepareJobs(loaded, jobs, opts.log);
  return runPrepared(prepared, loaded, opts);
}

export async function runPrepared(prepared: PreparedJob[], loaded: LoadedConfig, opts: RunOptions): Promise<RunSummary> {
  const limit = loaded.config.mode === 'sequential' ? 1 : loaded.config.maxjobs;
  const signal = opts.signal ?? new AbortController().signal;
  let notificationFailures = 0;
  const emit = async (event: JobEvent) => {
    const safe = redactValue(event);
    await Promise.all(
      opts.notifiers.map(async (n) => {
        try {
          await n.notify(safe);
        } catch (err) {
          notificationFailures++;
          opts.log.error(`the ${n.kind} notifier failed: ${errorMessage(err)}`);
        }
      }),
    );
  };
  const progressEvery = opts.progressEveryMs ?? 30_000;
  const pingFailed = (message: string) => {
    notificationFailures++;
    opts.log.error(message);
  };
  const settled = await mapSettled(prepared, limit, async (p) => {
    const name = p.job.name;
    const skipped = (err: LockHeldError): JobResult => {
      opts.log.warn(err.message);
      const at = new Date().toISOString();
      return { job: name, ok: false, skipped: 'locked', bytes: 0, durationMs: 0, destinations: [], error: err.message, startedAt: at, finishedAt: at };
    };
    let lock: JobLock | undefined;
    let lease: JobLease | undefined;
    const leaseCfg = leaseSettings(p.job);
    const ttlMs = p.job.lock?.ttl !== undefined ? parseDuration(p.job.lock.ttl) : undefined;
    const t0 = Date.now();
    if (opts.lock !== false) {
      try {
        lock = await acquireJobLock(
          name,
          p.targets.map((t) => t.location),
          {
            ...opts.lock,
            ...(ttlMs !== undefined ? { ttlMs } : {}),
            signal,
            onTakeover: (o) => opts.log.warn(`job "${name}": took over a stale lock${o ? ` left by pid ${o.pid} on ${o.host} (since ${o.startedAt})` : ''}`),
          },
        );
      } catch (err) {
        if (!(err instanceof LockHeldError)) throw err;
        return skipped(err);
      }
      // The lease after the local lock: one run per host asks the store, and a held lease is waited for in what
      // is left of --lock-wait.
      if (leaseCfg) {
        let dest;
        try {
          dest = leaseTarget(name, p.targets, leaseCfg.destination, storageBackends.filter((b) => b.conditionalWrites).map((b) => b.kind)).build();
        } catch (err) {
          await lock.release();
          throw err;
        }
        try {
          lease = await acquireLease(name, dest, {
            ttlMs: leaseCfg.ttlMs,
            waitMs: Math.max(0, (opts.lock?.waitMs ?? 0) - (Date.now() - t0)),
            signal,
            log: opts.log,
            onTakeover: (o) =>
              opts.log.warn(`job "${name}": took over a stale lease at ${dest.storage.describe(dest.key + LEASE_SUFFIX)}${o ? ` left by pid ${o.pid} on ${o.host} (since ${o.started}, last renewed ${o.heartbeat})` : ''}`),
          });
        } catch (err) {
          await lock.release();
          await dest.storage.close?.();
          if (!(err instanceof LockHeldError)) throw err;
          return skipped(err);
        }
        const held = lease;
        const release = held.release.bind(held);
        lease = { location: held.location, lost: held.lost, release: () => release().finally(() => dest.storage.close?.()) };
      }
    }
    try {
      return await runLocked(p, name, lease ? AbortSignal.any([signal, lease.lost]) : signal);
    } finally {
      await lease?.release();
      await lock?.release();
    }
  });
  async function runLocked(p: PreparedJob, name: string, signal: AbortSignal): Promise<JobResult> {
    await Promise.all([emit({ type: 'start', job: name, at: new Date().toISOString() }), ping(p.job.healthcheck, 'start', name, undefined, pingFailed)]);
    let lastEvent = Date.now();
    let lastBytes = 0;
    const result = await runPreparedJob(p, {
      log: opts.log,
      signal,
      now: opts.now?.() ?? new Date(),
      onProgress: (bytes) => {
        opts.onProgress?.(name, bytes);
        const now = Date.now();
        if (now - lastEvent >= progressEvery) {
          const rate = ((bytes - lastBytes) * 1000) / (now - lastEvent);
          lastEvent = now;
          lastBytes = bytes;
          void emit({ type: 'progress', job: name, bytes, rate, at: new Date(now).toISOString() });
        }
      },
    });
    await Promise.all([
      emit({ type: result.ok ? 'success' : 'failure', job: name, result, at: new Date().toISOString() }),
      ping(p.job.healthcheck, result.ok ? 'success' : 'failure', name, result, pingFailed),
    ]);
    return result;
  }
  const results = settled.map((s, i) =>
    s.status === 'fulfilled'
      ? s.value
      : ({
          job: prepared[i]!.job.name,
          ok: false,
          bytes: 0,
          durationMs: 0,
          destinations: [],
          error: errorMessage(s.reason),
          startedAt: new Date().toISOString(),
          finishedAt: new Date().toISOString(),
        } satisfies JobResult),
  );
  await emit({ type: 'summary', results, at: new Date().toISOString() });
  return { results, notificationFailures };
}

/**
 * The exit code of a run (docs/schedulers.md): interrupted 130; a failed job 1, or 3 when something else of the run
 * succeeded (another job, or another destination of the failed job); only lock-skipped jobs besides successes 11;
 * a notification that could not be delivered 1 (as the Go tool); else 0.
 */
export function runExitCode(summary: RunSummary, interrupted = false): number {
  if (interrupted) return EXIT.interrupted;
  const ran = summary.results.filter((r) => !r.skipped);
  const failed = ran.filter((r) => !r.ok);
  if (failed.length) {
    const someDone = ran.some((r) => r.ok) || failed.some((r) => r.destinations.some((d) => d.ok));
    return someDone ? EXIT.partial : EXIT.failed;
  }
  if (summary.results.some((r) => r.skipped)) return EXIT.locked;
  return summary.notificationFailures > 0 ? EXIT.failed : EXIT.ok;
}
