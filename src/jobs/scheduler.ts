import cron, { type ScheduledTask } from 'node-cron';
import type { Config } from '../config/schema.js';
import type { Logger } from '../util/logger.js';
import { parseDuration, formatDuration } from '../util/duration.js';
import { UsageError } from '../util/errors.js';
import { isRandomSchedule, resolveRandomSchedule } from './random-schedule.js';

/**
 * When a job runs: a cron expression (5 or 6 fields, in a time zone) or a fixed interval. `@daily-random` and
 * `@hourly-random` become the cron expression of a time spread by job name and host (random-schedule.ts); `text`
 * keeps what the config said.
 */
export type Schedule =
  { kind: 'cron'; text: string; expression: string; timezone?: string } | { kind: 'interval'; text: string; everyMs: number };

/** `job` (and `host`, default this machine's) decide where a random schedule falls; other schedules ignore them. */
export function parseSchedule(text: string, timezone?: string, job?: string, host?: string): Schedule {
  const everyMs = parseDuration(text);
  if (everyMs !== undefined) return { kind: 'interval', text, everyMs };
  if (isRandomSchedule(text)) {
    if (job === undefined) throw new UsageError(`schedule "${text}" needs a job name to spread by.`);
    return { kind: 'cron', text, expression: resolveRandomSchedule(text, job, host), timezone };
  }
  if (!cron.validate(text))
    throw new UsageError(`schedule "${text}" is neither a cron expression (5 or 6 fields) nor a duration such as 30m or 6h (nor @daily-random or @hourly-random).`);
  return { kind: 'cron', text, expression: text, timezone };
}

export function sameSchedule(a: Schedule, b: Schedule): boolean {
  if (a.kind === 'interval' && b.kind === 'interval') return a.everyMs === b.everyMs;
  if (a.kind === 'cron' && b.kind === 'cron') return a.expression === b.expression && a.timezone === b.timezone;
  return false;
}

export function describeSchedule(s: Schedule): string {
  if (s.kind === 'interval') return `every ${formatDuration(s.everyMs)}`;
  const spread = isRandomSchedule(s.text) ? `${s.text.trim()}, spread by job name and host: ` : '';
  return `${spread}cron "${s.expression}"${s.timezone ? ` (${s.timezone})` : ''}`;
}

/**
 * Each job's schedule: `--cron` (the Go tool's interval) for every job, else the job's own `schedule`, else the
 * top-level one. A job with none is a usage error (exit 2) before anything runs.
 */
export function jobSchedules(config: Config, jobNames: string[], cronOverride?: string): Map<string, Schedule> {
  const out = new Map<string, Schedule>();
  const missing: string[] = [];
  for (const job of config.jobs.filter((j) => jobNames.includes(j.name))) {
    const text = cronOverride ?? job.schedule ?? config.schedule;
    if (!text) {
      missing.push(job.name);
      continue;
    }
    out.set(job.name, parseSchedule(text, job.timezone ?? config.timezone, job.name));
  }
  if (missing.length) {
    throw new UsageError(
      `job${missing.length > 1 ? 's' : ''} ${missing.map((n) => `"${n}"`).join(', ')} ha${missing.length > 1 ? 've' : 's'} no schedule: set schedule: at the top level or on the job (e.g. schedule: 6h or "0 3 * * *"), or pass --cron 1h.`,
    );
  }
  return out;
}

interface Entry {
  schedule: Schedule;
  task?: ScheduledTask;
  timer?: NodeJS.Timeout;
  nextAt?: number;
}

/**
 * Calls `onTick(job)` at each job's times. It only keeps time: overlap, concurrency and running are the daemon's.
 * Intervals run at a fixed rate from their start (the first run at once, as the Go tool's `-c 1h` did); cron
 * expressions are node-cron tasks in their time zone.
 */
export class Scheduler {
  private readonly entries = new Map<string, Entry>();
  private stopped = false;

  constructor(
    private readonly onTick: (job: string) => void,
    private readonly log: Logger,
  ) {}

  has(job: string, schedule: Schedule): boolean {
    const e = this.entries.get(job);
    return Boolean(e && sameSchedule(e.schedule, schedule));
  }

  /** Schedules (or reschedules) a job. `runNow` starts an interval with an immediate run. */
  set(job: string, schedule: Schedule, opts: { runNow?: boolean } = {}): void {
    if (this.stopped) return;
    this.remove(job);
    const entry: Entry = { schedule };
    this.entries.set(job, entry);
    if (schedule.kind === 'interval') {
      const first = Date.now() + (opts.runNow ? 0 : schedule.everyMs);
      this.arm(job, entry, first);
    } else {
      const cronLog = {
        info: (m: string) => this.log.debug(`node-cron: ${m}`),
        warn: (m: string) => this.log.warn(`job "${job}": ${m}`),
        error: (m: string | Error) => this.log.error(`job "${job}": scheduler error: ${m instanceof Error ? m.message : m}`),
        debug: (m: string | Error) => this.log.debug(`node-cron: ${m instanceof Error ? m.message : m}`),
      };
      entry.task = cron.createTask(schedule.expression, () => this.onTick(job), {
        timezone: schedule.timezone,
        name: job,
        logger: cronLog,
      });
      void entry.task.start();
    }
  }

  private arm(job: string, entry: Entry, at: number): void {
    entry.nextAt = at;
    entry.timer = setTimeout(
      () => {
        if (this.stopped || this.entries.get(job) !== entry || entry.schedule.kind !== 'interval') return;
        // Fixed rate: the next run is one interval after this one was due, skipping slots already past.
        const every = entry.schedule.everyMs;
        let next = at + every;
        const now = Date.now();
        if (next <= now) next = now + every - ((now - at) % every);
        this.arm(job, entry, next);
        this.onTick(job);
      },
      Math.max(0, at - Date.now()),
    );
  }

  remove(job: string): void {
    const e = this.entries.get(job);
    if (!e) return;
    if (e.timer) clearTimeout(e.timer);
    if (e.task) void e.task.destroy();
    this.entries.delete(job);
  }

  jobs(): string[] {
    return [...this.entries.keys()];
  }

  scheduleOf(job: string): Schedule | undefined {
    return this.entries.get(job)?.schedule;
  }

  nextRun(job: string): Date | undefined {
    const e = this.entries.get(job);
    if (!e || this.stopped) return undefined;
    if (e.task) return e.task.getNextRun() ?? undefined;
    return e.nextAt !== undefined ? new Date(e.nextAt) : undefined;
  }

  /** No more ticks after this. */
  stop(): void {
    this.stopped = true;
    for (const job of [...this.entries.keys()]) this.remove(job);
  }
}
