import type { JobConfig } from '../config/schema.js';
import type { ParsedDsn } from '../config/dsn.js';
import type { Destination } from '../storage/types.js';
import type { Dumper } from '../dump/types.js';
import type { JobResult } from '../notify/types.js';
import type { Logger } from '../util/logger.js';
import type { KeepPolicy } from '../config/fields.js';
import { storageBackends, storageFromUrl } from '../storage/registry.js';
import { createDumper } from '../dump/registry.js';
import { backupKey, namingOf } from './naming.js';
import { runPipeline } from './pipeline.js';
import { applyRetention } from './retention.js';
import { pruneJob, jobStatus } from './recoverability.js';
import { buildManifest, manifestKey, putJson } from './manifest.js';
import { compressionOf } from './compression.js';
import { VERSION } from '../version.js';
import { TableTally, tallyFlavour } from '../dump/tally.js';
import { errorMessage, isTransient, UsageError } from '../util/errors.js';
import { policyFromConfig, retry } from '../util/retry.js';
import { parseDuration } from '../util/duration.js';

/** A job ready to run: its dumper and destinations are built (so bad config fails before anything runs). */
export interface PreparedJob {
  job: JobConfig;
  dsn: ParsedDsn;
  dumper: Dumper;
  /** Each destination with the key as configured (before naming), for retention. */
  targets: Array<{ name: string; kind: string; configuredKey: string; keep?: KeepPolicy; build: () => Destination; location: string }>;
}

/** Builds a job's dumper and destination factories; throws (exit 2) on anything that is not built or not valid. */
export function prepareJob(job: JobConfig, dsn: ParsedDsn, log: Logger, urls: string[] = []): PreparedJob {
  const dumper = createDumper(job, dsn);
  const targets: PreparedJob['targets'] = [];
  urls.forEach((url, i) => {
    const probe = storageFromUrl(url, { log });
    void probe.storage.close?.();
    if (!probe.key) throw new UsageError(`--to ${url} names a folder; give a file name, e.g. ${url.replace(/\/?$/, '/')}backup.sql`);
    targets.push({
      name: `to[${i}]`,
      kind: probe.storage.kind,
      configuredKey: probe.key,
      location: probe.storage.describe(probe.key),
      build: () => ({ name: `to[${i}]`, ...storageFromUrl(url, { log }) }),
    });
  });
  for (const backend of storageBackends) {
    const entries = (job.storage as Record<string, unknown[] | undefined>)[backend.kind] ?? [];
    entries.forEach((opts, i) => {
      const name = `${backend.kind}[${i}]`;
      // Build once now so an unbuilt or invalid backend fails before any job runs.
      const probe = backend.fromConfig(opts, { log });
      void probe.storage.close?.();
      targets.push({
        name,
        kind: backend.kind,
        configuredKey: probe.key,
        keep: (opts as { keep?: KeepPolicy }).keep,
        location: backend.describe(opts),
        build: () => {
          const t = backend.fromConfig(opts, { log });
          return { name, storage: t.storage, key: t.key, keep: (opts as { keep?: KeepPolicy }).keep };
        },
      });
    });
  }
  return { job, dsn, dumper, targets };
}

export interface RunJobOptions {
  log: Logger;
  signal: AbortSignal;
  now: Date;
  onProgress?: (bytes: number) => void;
}

/** Runs one prepared job; never throws: the result says what happened. */
export async function runPreparedJob(p: PreparedJob, o: RunJobOptions): Promise<JobResult> {
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  const { job } = p;
  const log = o.log.child({ job: job.name });
  const timeoutMs = job.timeout !== undefined ? parseDuration(job.timeout) : undefined;
  const signal = timeoutMs ? AbortSignal.any([o.signal, AbortSignal.timeout(timeoutMs)]) : o.signal;
  const base: Omit<JobResult, 'ok' | 'bytes' | 'durationMs' | 'destinations' | 'finishedAt'> = { job: job.name, startedAt };
  let destinations: Destination[] = [];
  let tally: TableTally | undefined;
  try {
    const result = await retry(
      async (attempt) => {
        destinations = p.targets.map((t) => {
          const d = t.build();
          return { ...d, key: backupKey(d.key, { ...namingOf(job), now: o.now }) };
        });
        if (attempt > 1) log.warn(`retrying job "${job.name}" (attempt ${attempt})`);
        const flavour = tallyFlavour(job);
        tally = flavour ? new TableTally(flavour) : undefined;
        const t = tally;
        const r = await runPipeline((out, sig) => p.dumper.dump(out, { job, log, signal: sig }), destinations, {
          gzip: false,
          compression: compressionOf(job),
          encrypt: job.encrypt?.recipients,
          signal,
          onProgress: o.onProgress,
          observeRaw: t ? (c) => t.observe(c) : undefined,
        });
        // Only a source that failed before producing anything is retried: a dump is never streamed twice.
        if (r.error && r.bytes === 0 && isTransient(r.error)) throw Object.assign(new Error(errorMessage(r.error)), { transient: true, pipelineResult: r });
        return r;
      },
      {
        policy: policyFromConfig(job.retry),
        signal,
        onRetry: (err, attempt, delay) => log.warn(`job "${job.name}" failed with a transient fault (${errorMessage(err)}); retry ${attempt} in ${delay} ms`),
      },
    ).catch((err: { pipelineResult?: Awaited<ReturnType<typeof runPipeline>> }) => {
      if (err?.pipelineResult) return err.pipelineResult;
      throw err;
    });

    const okOutcomes = result.outcomes.filter((x) => x.ok);
    const resultDest = result.outcomes.map((x) => ({
      name: x.destination.name,
      location: x.stored?.location ?? x.destination.storage.describe(x.destination.key),
      ok: x.ok,
      bytes: x.stored?.size,
      error: x.ok ? undefined : errorMessage(x.error),
    }));
    // A copy whose size differs from what was produced is not a backup.
    for (const d of resultDest) {
      if (d.ok && d.bytes !== undefined && d.bytes !== result.bytes) {
        d.ok = false;
        d.error = `stored ${d.bytes} bytes but the dump produced ${result.bytes}`;
      }
    }
    if (!result.error) {
      // The manifest goes next to each stored copy, after it is committed; a copy without one is reported as failed.
      const finishedAt = new Date().toISOString();
      await Promise.all(
        result.outcomes.map(async (x, i) => {
          const d = resultDest[i]!;
          if (!d.ok) return;
          const manifest = buildManifest({
            job,
            dsn: p.dsn,
            info: result.info,
            tally: tally?.result(),
            objects: tally?.objectList(),
            // The run's time as the runner gave it, which the name's timestamp uses too, so that the two agree
            // (retention reads either); in a real run it is the moment the run began.
            startedAt: o.now.toISOString(),
            finishedAt,
            name: x.destination.key.split('/').pop() ?? x.destination.key,
            size: result.bytes,
            sha256: result.sha256,
            onedump: VERSION,
          });
          try {
            await putJson(x.destination.storage, manifestKey(x.destination.key), manifest, signal);
          } catch (err) {
            d.ok = false;
            d.error = `the backup was stored but its manifest could not be: ${errorMessage(err)}`;
          }
        }),
      );
    }
    const failed = resultDest.filter((d) => !d.ok);
    let error: string | undefined;
    if (result.error) error = errorMessage(result.error);
    else if (failed.length) error = `${failed.length} of ${resultDest.length} destination(s) failed: ${failed.map((d) => `${d.name} (${d.error})`).join('; ')}`;
    if (!result.error) {
      for (const t of p.targets) {
        const d = destinations.find((x) => x.name === t.name);
        if (!t.keep || !d || !okOutcomes.some((x) => x.destination.name === t.name) || !resultDest.find((x) => x.name === t.name)?.ok) continue;
        try {
          await applyRetention(d, t.configuredKey, { ...namingOf(job), keep: t.keep, log, timeZone: job.timezone, protect: d.key, signal });
        } catch (err) {
          log.warn(`retention at ${t.name} failed: ${errorMessage(err)}`);
        }
      }
      // PITR-aware binlog retention: the binlogs no dump still kept at any destination needs.
      if (!error && job.binlogs?.prune) {
        try {
          const r = await pruneJob(p, { log, signal, binlogsOnly: true });
          if (r.binlogs?.error) log.warn(`binlog retention at ${r.binlogs.location} skipped: ${r.binlogs.error}`);
        } catch (err) {
          log.warn(`binlog retention failed: ${errorMessage(err)}`);
        }
      }
    }
    // With its binlogs known (binlogs:), what the job can be restored to now: for notifications and /metrics.
    let recoverable: JobResult['recoverable'];
    if (!error && job.binlogs) {
      try {
        const st = await jobStatus(p, new Date(), signal);
        recoverable = { earliest: st.earliest, latest: st.latest, windows: st.windows?.length ?? 0, gaps: st.gaps?.length ?? 0, problems: st.problems };
      } catch (err) {
        log.warn(`the recoverability window could not be computed: ${errorMessage(err)}`);
      }
    }
    return {
      ...base,
      ...(recoverable ? { recoverable } : {}),
      ok: !error,
      bytes: result.bytes,
      durationMs: Date.now() - started,
      sha256: result.error ? undefined : result.sha256,
      fileName: destinations[0]?.key.split('/').pop(),
      destinations: resultDest,
      error,
      finishedAt: new Date().toISOString(),
    };
  } catch (err) {
    return {
      ...base,
      ok: false,
      bytes: 0,
      durationMs: Date.now() - started,
      destinations: p.targets.map((t) => ({ name: t.name, location: t.location, ok: false, error: errorMessage(err) })),
      error: errorMessage(err),
      finishedAt: new Date().toISOString(),
    };
  } finally {
    await Promise.allSettled(destinations.map((d) => d.storage.close?.()));
  }
}
