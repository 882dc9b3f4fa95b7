import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { JobResult } from '../notify/types.js';

/**
 * The per-job gauges a daemon and a one-shot run (push-metrics.ts) both export, under one name and help text each, so
 * one alert rule serves both ways of running.
 */
export const JOB_GAUGES = {
  lastDuration: {
    name: 'onedump_job_last_duration_seconds',
    help: 'Duration of the last run of the job.',
  },
  lastBytes: {
    name: 'onedump_job_last_bytes',
    help: 'Size of the last successful backup of the job.',
  },
  lastSuccess: {
    name: 'onedump_job_last_success_timestamp_seconds',
    help: 'Unix time the job last succeeded.',
  },
  lastRun: {
    name: 'onedump_job_last_run_timestamp_seconds',
    help: 'Unix time the last run of the job finished.',
  },
  lastOk: {
    name: 'onedump_job_last_run_success',
    help: '1 if the last run of the job succeeded, 0 if it failed.',
  },
  recoverableEarliest: {
    name: 'onedump_recoverable_earliest_timestamp_seconds',
    help: 'The earliest instant the job can be restored to (jobs with binlogs:), as of its last successful run.',
  },
  recoverableLatest: {
    name: 'onedump_recoverable_latest_timestamp_seconds',
    help: 'The latest instant the job can be restored to (the last event of its stored binlog chain), as of its last successful run.',
  },
  chainGaps: {
    name: 'onedump_binlog_chain_gaps',
    help: "Gaps in the job's stored binlog chain (missing or short files), as of its last successful run.",
  },
} as const satisfies Record<string, { name: string; help: string }>;

/** The daemon's Prometheus metrics, each per job (label job="<name>"), in a registry of their own. */
export class DaemonMetrics {
  readonly registry = new Registry();
  readonly runs = new Counter({
    name: 'onedump_job_runs_total',
    help: 'Job runs finished (succeeded or failed).',
    labelNames: ['job'],
    registers: [this.registry],
  });
  readonly failures = new Counter({
    name: 'onedump_job_failures_total',
    help: 'Job runs that failed.',
    labelNames: ['job'],
    registers: [this.registry],
  });
  readonly skipped = new Counter({
    name: 'onedump_job_skipped_total',
    help: 'Scheduled starts skipped because the previous run of the job was still going (in this daemon, or in another process holding its lock).',
    labelNames: ['job'],
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'onedump_job_duration_seconds',
    help: 'Duration of job runs.',
    labelNames: ['job'],
    buckets: [1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400, 43200],
    registers: [this.registry],
  });
  readonly lastDuration = new Gauge({
    ...JOB_GAUGES.lastDuration,
    labelNames: ['job'],
    registers: [this.registry],
  });
  readonly bytes = new Counter({
    name: 'onedump_job_bytes_total',
    help: 'Bytes of backups written by successful runs (after compression).',
    labelNames: ['job'],
    registers: [this.registry],
  });
  readonly lastBytes = new Gauge({
    ...JOB_GAUGES.lastBytes,
    labelNames: ['job'],
    registers: [this.registry],
  });
  readonly lastSuccess = new Gauge({
    ...JOB_GAUGES.lastSuccess,
    labelNames: ['job'],
    registers: [this.registry],
  });
  readonly lastRun = new Gauge({
    ...JOB_GAUGES.lastRun,
    labelNames: ['job'],
    registers: [this.registry],
  });
  readonly lastOk = new Gauge({
    ...JOB_GAUGES.lastOk,
    labelNames: ['job'],
    registers: [this.registry],
  });
  readonly running = new Gauge({
    name: 'onedump_job_running',
    help: '1 while the job is running.',
    labelNames: ['job'],
    registers: [this.registry],
  });
  readonly notificationFailures = new Counter({
    name: 'onedump_notification_failures_total',
    help: 'Notifications that could not be delivered after retries.',
    registers: [this.registry],
  });
  readonly verifyLastSuccess = new Gauge({
    name: 'onedump_verify_last_success_timestamp_seconds',
    help: 'Unix time a restore drill of the job last verified its backup.',
    labelNames: ['job'],
    registers: [this.registry],
  });
  readonly verifyDuration = new Gauge({
    name: 'onedump_verify_duration_seconds',
    help: 'Duration of the last restore drill of the job (the restore itself is onedump_verify_restore_seconds).',
    labelNames: ['job'],
    registers: [this.registry],
  });
  readonly verifyRestore = new Gauge({
    name: 'onedump_verify_restore_seconds',
    help: 'Time the last restore drill took to load the backup: the measured restore time (RTO).',
    labelNames: ['job'],
    registers: [this.registry],
  });
  readonly verifyFailures = new Counter({
    name: 'onedump_verify_failures_total',
    help: 'Restore drills that failed (a difference, or a restore that did not complete).',
    labelNames: ['job'],
    registers: [this.registry],
  });
  readonly verifyRuns = new Counter({
    name: 'onedump_verify_runs_total',
    help: 'Restore drills finished.',
    labelNames: ['job'],
    registers: [this.registry],
  });
  readonly recoverableEarliest = new Gauge({
    ...JOB_GAUGES.recoverableEarliest,
    labelNames: ['job'],
    registers: [this.registry],
  });
  readonly recoverableLatest = new Gauge({
    ...JOB_GAUGES.recoverableLatest,
    labelNames: ['job'],
    registers: [this.registry],
  });
  readonly chainGaps = new Gauge({
    ...JOB_GAUGES.chainGaps,
    labelNames: ['job'],
    registers: [this.registry],
  });
  readonly reloads = new Counter({
    name: 'onedump_config_reloads_total',
    help: 'Config reloads (SIGHUP) by result.',
    labelNames: ['result'],
    registers: [this.registry],
  });

  /** Makes a job's series appear (at 0) before its first run. */
  declare(job: string): void {
    this.runs.inc({ job }, 0);
    this.failures.inc({ job }, 0);
    this.skipped.inc({ job }, 0);
    this.bytes.inc({ job }, 0);
    this.running.set({ job }, 0);
  }

  record(job: string, r: JobResult): void {
    const finished = Date.parse(r.finishedAt) / 1000;
    this.runs.inc({ job });
    this.duration.observe({ job }, r.durationMs / 1000);
    this.lastDuration.set({ job }, r.durationMs / 1000);
    this.lastRun.set({ job }, finished);
    this.lastOk.set({ job }, r.ok ? 1 : 0);
    if (r.recoverable) {
      if (r.recoverable.earliest) this.recoverableEarliest.set({ job }, Date.parse(r.recoverable.earliest) / 1000);
      if (r.recoverable.latest) this.recoverableLatest.set({ job }, Date.parse(r.recoverable.latest) / 1000);
      this.chainGaps.set({ job }, r.recoverable.gaps);
    }
    if (r.ok) {
      this.bytes.inc({ job }, r.bytes);
      this.lastBytes.set({ job }, r.bytes);
      this.lastSuccess.set({ job }, finished);
    } else {
      this.failures.inc({ job });
    }
  }

  recordVerify(job: string, r: { ok: boolean; durationMs: number; restoreMs?: number }, at = Date.now()): void {
    this.verifyRuns.inc({ job });
    this.verifyDuration.set({ job }, r.durationMs / 1000);
    if (r.restoreMs !== undefined) this.verifyRestore.set({ job }, r.restoreMs / 1000);
    if (r.ok) this.verifyLastSuccess.set({ job }, at / 1000);
    else this.verifyFailures.inc({ job });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
