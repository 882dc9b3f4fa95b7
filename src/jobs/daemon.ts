import type { LoadedConfig } from '../config/load.js';
import type { JobEvent, JobResult, Notifier } from '../notify/types.js';
import type { Logger } from '../util/logger.js';
import { prepareJob } from './job.js';
import { prepareJobs, runPrepared, selectJobs } from './runner.js';
import { describeSchedule, jobSchedules, parseSchedule, sameSchedule, Scheduler, type Schedule } from './scheduler.js';
import { jobBackup, jobScratchServer, verifyBackup } from './verify.js';
import { DaemonMetrics } from './metrics.js';
import { errorMessage, UsageError } from '../util/errors.js';
import { redactValue } from '../util/redact.js';
import { formatDuration } from '../util/duration.js';

export interface DaemonOptions {
  log: Logger;
  /** Builds the notifiers for a config (the console notifier included); called again on reload. */
  notifiersFor: (loaded: LoadedConfig) => Notifier[];
  /** Only these jobs (--job); all when empty. */
  jobNames?: string[];
  /** The Go tool's `--cron 1h`: this interval for every job. */
  cronOverride?: string;
}

export interface LastRun {
  ok: boolean;
  error?: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  bytes: number;
  destinations: Array<{ name: string; location: string; ok: boolean; error?: string }>;
}

interface JobState {
  schedule: Schedule;
  running: boolean;
  runs: number;
  failures: number;
  skipped: number;
  lastRun?: LastRun;
  lastSuccessAt?: string;
}

export interface HealthSnapshot {
  status: 'running' | 'stopping';
  startedAt: string;
  config: string;
  lastReload?: { at: string; ok: boolean; error?: string };
  jobs: Array<{
    job: string;
    schedule: string;
    running: boolean;
    nextRun: string | null;
    runs: number;
    failures: number;
    skipped: number;
    lastSuccessAt: string | null;
    lastRun: LastRun | null;
  }>;
}

/**
 * Runs the config's jobs on their schedules until shut down. A job never overlaps itself (the tick is skipped and
 * logged), a failure is reported and the next tick runs as usual, and every run prepares the job afresh (new storage
 * clients, the current config). Process concerns (signals, exit codes) belong to the CLI.
 */
export class Daemon {
  readonly metrics = new DaemonMetrics();
  private loaded: LoadedConfig;
  private notifiers: Notifier[];
  private readonly scheduler: Scheduler;
  private readonly state = new Map<string, JobState>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly waiting: Array<() => void> = [];
  private active = 0;
  private stopping = false;
  private readonly abort = new AbortController();
  private readonly startedAt = new Date().toISOString();
  private lastReload?: HealthSnapshot['lastReload'];

  constructor(
    loaded: LoadedConfig,
    private readonly opts: DaemonOptions,
  ) {
    this.validate(loaded);
    this.loaded = loaded;
    this.notifiers = opts.notifiersFor(loaded);
    this.scheduler = new Scheduler((job) => this.tick(job), opts.log);
    this.drills = new Scheduler((job) => this.tickDrill(job), opts.log);
  }

  /** Restore drills (a job's verify.schedule) keep time on a scheduler of their own. */
  private readonly drills: Scheduler;
  private readonly drillSchedules = new Map<string, Schedule>();
  private readonly drilling = new Set<string>();

  /** The restore-drill schedules of the selected jobs. */
  private drillPlan(loaded: LoadedConfig): Map<string, Schedule> {
    const out = new Map<string, Schedule>();
    for (const job of selectJobs(loaded, this.opts.jobNames)) {
      if (job.verify?.schedule) out.set(job.name, parseSchedule(job.verify.schedule, job.timezone ?? loaded.config.timezone, `${job.name} (restore drill)`));
    }
    return out;
  }

  private applyDrills(plan: Map<string, Schedule>): void {
    for (const job of [...this.drillSchedules.keys()]) {
      if (!plan.has(job)) {
        this.drills.remove(job);
        this.drillSchedules.delete(job);
      }
    }
    for (const [job, schedule] of plan) {
      const old = this.drillSchedules.get(job);
      if (old && sameSchedule(old, schedule)) continue;
      this.drills.set(job, schedule, { runNow: false });
      this.drillSchedules.set(job, schedule);
      const next = this.drills.nextRun(job);
      this.opts.log.info({ job }, `job "${job}": restore drill scheduled ${describeSchedule(schedule)}; next ${next ? next.toISOString() : 'unknown'}`);
    }
  }

  private tickDrill(job: string): void {
    if (this.stopping) return;
    if (this.drilling.has(job)) {
      this.opts.log.warn({ job }, `job "${job}": the previous restore drill is still running: this one is skipped`);
      return;
    }
    this.drilling.add(job);
    const key = `${job} (restore drill)`;
    const run = this.runDrill(job).finally(() => {
      this.drilling.delete(job);
      this.running.delete(key);
    });
    this.running.set(key, run);
  }

  /** One restore drill of the job's newest backup: recorded next to it, counted in /metrics, sent to notifiers. */
  private async runDrill(job: string): Promise<void> {
    await this.acquire();
    const loaded = this.loaded;
    const notifiers = this.notifiers;
    const started = Date.now();
    try {
      if (this.stopping || this.abort.signal.aborted) return;
      const jobConfig = loaded.config.jobs.find((j) => j.name === job);
      const dsn = loaded.dsns.get(job);
      let outcome: { ok: boolean; backup: string; durationMs: number; restoreMs?: number; target?: string; differences: string[] };
      try {
        if (!jobConfig || !dsn) throw new UsageError(`job "${job}" is not in the config any more.`);
        const b = await jobBackup(jobConfig, dsn);
        try {
          const r = await verifyBackup({
            ...b,
            job: jobConfig,
            sourceDsn: dsn,
            identity: jobConfig.verify?.identity,
            server: jobScratchServer(jobConfig),
            record: true,
            log: this.opts.log,
            signal: this.abort.signal,
          });
          outcome = { ok: r.ok, backup: r.backup, durationMs: r.durationMs, restoreMs: r.restoreMs, target: r.target, differences: r.differences };
        } finally {
          await b.storage.close?.();
        }
      } catch (err) {
        outcome = { ok: false, backup: '-', durationMs: Date.now() - started, differences: [`the restore drill could not run: ${errorMessage(err)}`] };
      }
      this.metrics.recordVerify(job, outcome);
      const failures = await this.emit(notifiers, { type: 'verify', job, result: outcome, at: new Date().toISOString() });
      if (failures) this.metrics.notificationFailures.inc(failures);
      const next = this.drills.nextRun(job);
      this.opts.log[outcome.ok ? 'info' : 'warn'](
        { job },
        `job "${job}": restore drill ${outcome.ok ? 'verified' : 'FAILED'} ${outcome.backup} in ${formatDuration(outcome.durationMs)}${outcome.ok ? '' : ` (${outcome.differences.join('; ')})`}; next ${next ? next.toISOString() : 'none'}`,
      );
    } finally {
      this.release();
    }
  }

  /** Everything that must hold before a config is used: jobs exist, have schedules, and can be built. */
  private validate(loaded: LoadedConfig): Map<string, Schedule> {
    const jobs = selectJobs(loaded, this.opts.jobNames);
    const schedules = jobSchedules(
      loaded.config,
      jobs.map((j) => j.name),
      this.opts.cronOverride,
    );
    prepareJobs(loaded, jobs, this.opts.log);
    this.drillPlan(loaded); // a bad verify.schedule is refused with the rest
    return schedules;
  }

  start(): void {
    const schedules = jobSchedules(this.loaded.config, this.selected(), this.opts.cronOverride);
    for (const [job, schedule] of schedules) {
      this.state.set(job, { schedule, running: false, runs: 0, failures: 0, skipped: 0 });
      this.scheduler.set(job, schedule, { runNow: true });
      this.metrics.declare(job);
    }
    for (const [job, schedule] of schedules) {
      const next = this.scheduler.nextRun(job);
      this.opts.log.info(
        { job, schedule: schedule.text },
        `job "${job}" scheduled ${describeSchedule(schedule)}; next run ${next ? next.toISOString() : 'unknown'}`,
      );
    }
    this.applyDrills(this.drillPlan(this.loaded));
  }

  private selected(): string[] {
    return selectJobs(this.loaded, this.opts.jobNames).map((j) => j.name);
  }

  /**
   * Switches to a new config: it is validated first and, if anything is wrong, the old one stays (the error says why).
   * Unchanged schedules keep their timing; running jobs finish under the config they started with.
   */
  async reload(load: () => Promise<LoadedConfig>): Promise<void> {
    const at = new Date().toISOString();
    let schedules: Map<string, Schedule>;
    let drills: Map<string, Schedule>;
    let next: LoadedConfig;
    try {
      if (this.stopping) throw new UsageError('the daemon is shutting down');
      next = await load();
      schedules = this.validate(next);
      drills = this.drillPlan(next);
    } catch (err) {
      this.lastReload = { at, ok: false, error: errorMessage(err) };
      this.metrics.reloads.inc({ result: 'error' });
      throw err;
    }
    this.loaded = next;
    this.notifiers = this.opts.notifiersFor(next);
    for (const job of this.scheduler.jobs()) {
      if (!schedules.has(job)) {
        this.scheduler.remove(job);
        this.state.delete(job);
        this.opts.log.info(`job "${job}" is no longer in the config: unscheduled`);
      }
    }
    for (const [job, schedule] of schedules) {
      const st = this.state.get(job);
      if (st && this.scheduler.has(job, schedule)) continue;
      const isNew = !st;
      this.scheduler.set(job, schedule, { runNow: isNew });
      if (st) st.schedule = schedule;
      else {
        this.state.set(job, { schedule, running: false, runs: 0, failures: 0, skipped: 0 });
        this.metrics.declare(job);
      }
      this.opts.log.info(`job "${job}" ${isNew ? 'added' : 'rescheduled'}: ${describeSchedule(schedule)}`);
    }
    this.applyDrills(drills);
    this.lastReload = { at, ok: true };
    this.metrics.reloads.inc({ result: 'ok' });
  }

  private tick(job: string): void {
    if (this.stopping) return;
    const st = this.state.get(job);
    if (!st) return;
    if (st.running) {
      st.skipped++;
      this.metrics.skipped.inc({ job });
      this.opts.log.warn({ job }, `job "${job}" is still running from its previous start: this run is skipped`);
      return;
    }
    st.running = true;
    const run = this.runJob(job, st).finally(() => {
      st.running = false;
      this.running.delete(job);
    });
    this.running.set(job, run);
  }

  private async acquire(): Promise<void> {
    const limit = this.loaded.config.mode === 'sequential' ? 1 : this.loaded.config.maxjobs;
    while (this.active >= limit) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
  }

  private release(): void {
    this.active--;
    this.waiting.shift()?.();
  }

  private async runJob(job: string, st: JobState): Promise<void> {
    await this.acquire();
    this.metrics.running.set({ job }, 1);
    const loaded = this.loaded;
    const notifiers = this.notifiers;
    try {
      // Queued for a slot when the shutdown began: it never started, so it does not start now.
      if (this.stopping || this.abort.signal.aborted) {
        this.opts.log.info({ job }, `job "${job}" was waiting for a free slot (maxjobs) and will not start: the daemon is shutting down`);
        return;
      }
      const jobConfig = loaded.config.jobs.find((j) => j.name === job);
      const dsn = loaded.dsns.get(job);
      let result: JobResult;
      let notificationFailures = 0;
      try {
        if (!jobConfig || !dsn) throw new UsageError(`job "${job}" is not in the config any more.`);
        // Fresh every run: new storage clients, and the config as it is now.
        const prepared = prepareJob(jobConfig, dsn, this.opts.log);
        const summary = await runPrepared([prepared], loaded, { log: this.opts.log, notifiers, signal: this.abort.signal });
        result = summary.results[0]!;
        notificationFailures = summary.notificationFailures;
      } catch (err) {
        const at = new Date().toISOString();
        result = { job, ok: false, bytes: 0, durationMs: 0, destinations: [], error: errorMessage(err), startedAt: at, finishedAt: at };
        notificationFailures = await this.emit(notifiers, { type: 'failure', job, result, at });
      }
      this.record(job, st, result, notificationFailures);
    } finally {
      this.metrics.running.set({ job }, 0);
      this.release();
    }
  }

  private async emit(notifiers: Notifier[], event: JobEvent): Promise<number> {
    let failures = 0;
    await Promise.all(
      notifiers.map((n) =>
        n.notify(redactValue(event)).catch((err) => {
          failures++;
          this.opts.log.error(`the ${n.kind} notifier failed: ${errorMessage(err)}`);
        }),
      ),
    );
    return failures;
  }

  private record(job: string, st: JobState, r: JobResult, notificationFailures: number): void {
    if (r.skipped) {
      // Another process (a manual `onedump dump`, another daemon on a shared lock folder) is running the job.
      st.skipped++;
      this.metrics.skipped.inc({ job });
      return;
    }
    st.runs++;
    if (!r.ok) st.failures++;
    st.lastRun = {
      ok: r.ok,
      error: r.error,
      startedAt: r.startedAt,
      finishedAt: r.finishedAt,
      durationMs: r.durationMs,
      bytes: r.bytes,
      destinations: r.destinations.map((d) => ({ name: d.name, location: d.location, ok: d.ok, error: d.error })),
    };
    if (r.ok) st.lastSuccessAt = r.finishedAt;
    this.metrics.record(job, r);
    if (notificationFailures) this.metrics.notificationFailures.inc(notificationFailures);
    const next = this.scheduler.nextRun(job);
    const when = next ? `next run ${next.toISOString()}` : 'no further run scheduled';
    if (r.ok) this.opts.log.info({ job }, `job "${job}" run ${st.runs} finished in ${formatDuration(r.durationMs)}; ${when}`);
    else this.opts.log.warn({ job }, `job "${job}" run ${st.runs} failed (${r.error}); the daemon keeps going, ${when}`);
  }

  runningJobs(): string[] {
    return [...this.running.keys()];
  }

  /**
   * Stops scheduling, lets running jobs finish within `timeoutMs`, then aborts the rest (their uploads are aborted
   * and temp files removed) and waits for them to wind down. Resolves with the jobs that had to be aborted.
   */
  async shutdown(timeoutMs: number): Promise<{ aborted: string[] }> {
    this.stopping = true;
    this.scheduler.stop();
    this.drills.stop();
    const names = this.runningJobs();
    if (!names.length) return { aborted: [] };
    this.opts.log.info(`waiting up to ${formatDuration(timeoutMs)} for ${names.length} running job(s) to finish: ${names.join(', ')}`);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      Promise.allSettled([...this.running.values()]).then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (!timedOut) return { aborted: [] };
    const aborted = this.runningJobs();
    this.abortNow(`the shutdown timeout (${formatDuration(timeoutMs)}) passed`);
    await Promise.allSettled([...this.running.values()]);
    return { aborted };
  }

  /** Aborts every running job now (a second signal, or the shutdown timeout). */
  abortNow(why: string): void {
    this.stopping = true;
    this.scheduler.stop();
    this.drills.stop();
    if (this.abort.signal.aborted) return;
    const names = this.runningJobs();
    if (names.length) this.opts.log.warn(`aborting ${names.join(', ')}: ${why} (nothing incomplete is kept)`);
    this.abort.abort(new Error(`the daemon is shutting down: ${why}`));
  }

  health(): HealthSnapshot {
    return {
      status: this.stopping ? 'stopping' : 'running',
      startedAt: this.startedAt,
      config: this.loaded.source,
      lastReload: this.lastReload,
      jobs: [...this.state.entries()].map(([job, st]) => ({
        job,
        schedule: st.schedule.text,
        running: st.running,
        nextRun: this.scheduler.nextRun(job)?.toISOString() ?? null,
        runs: st.runs,
        failures: st.failures,
        skipped: st.skipped,
        lastSuccessAt: st.lastSuccessAt ?? null,
        lastRun: st.lastRun ?? null,
      })),
    };
  }
}
