import { parseDuration } from '../util/duration.js';
import { UsageError } from '../util/errors.js';
import { isRandomSchedule, resolveRandomSchedule } from '../jobs/random-schedule.js';

/**
 * A job's schedule (cron, 5 or 6 fields, or a duration) in the forms external schedulers take: a Kubernetes CronJob's
 * 5-field cron, and a systemd timer's OnCalendar= (or OnUnitActiveSec= for a duration that no calendar expresses).
 * What cannot be said exactly is refused with one sentence, never approximated.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Five cron fields, or a usage error naming the job. */
function cronFields(job: string, schedule: string): string[] {
  const f = schedule.trim().split(/\s+/);
  if (f.length === 6) {
    if (f[0] !== '0') throw new UsageError(`job "${job}": schedule "${schedule}" fires at seconds other than 0, which neither a CronJob nor this export expresses; use a 5-field cron expression.`);
    return f.slice(1);
  }
  if (f.length !== 5) throw new UsageError(`job "${job}": schedule "${schedule}" is not a 5-field cron expression.`);
  return f;
}

/** An interval as a cron expression when it divides an hour or a day evenly (30m → every 30 minutes from :00). */
function intervalCron(job: string, schedule: string, ms: number): string {
  if (ms % MINUTE === 0 && ms < HOUR && HOUR % ms === 0) return `*/${ms / MINUTE} * * * *`;
  if (ms % HOUR === 0 && ms < DAY && DAY % ms === 0) return `0 */${ms / HOUR} * * *`;
  if (ms === DAY) return '0 0 * * *';
  throw new UsageError(
    `job "${job}": schedule "${schedule}" is an interval that does not divide an hour or a day evenly; write it as a cron expression (e.g. "0 3 * * *") for export.`,
  );
}

/**
 * `@daily-random` / `@hourly-random` as the concrete cron expression the daemon would use for this job on `host`
 * (default this machine), so the exported unit or CronJob fires at the same spread-out time; others unchanged.
 */
export function concreteSchedule(job: string, schedule: string, host?: string): string {
  return isRandomSchedule(schedule) ? resolveRandomSchedule(schedule, job, host) : schedule;
}

/** The 5-field cron expression of a CronJob. */
export function kubernetesSchedule(job: string, given: string, host?: string): string {
  const schedule = concreteSchedule(job, given, host);
  const ms = parseDuration(schedule);
  if (ms !== undefined) return intervalCron(job, schedule, ms);
  return cronFields(job, schedule).join(' ');
}

const DOW = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DOWS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** One cron field in systemd's calendar syntax: `*`, lists, ranges `a-b` → `a..b`, steps `*\/n` → `0/n`, `a-b/n`. */
function calendarField(job: string, schedule: string, field: string, names: string[] = [], base = 0, width = 2): string {
  const num = (t: string) => {
    const i = names.indexOf(t.toLowerCase());
    const n = i >= 0 ? i + base : Number(t);
    if (!/^\d+$/.test(t) && i < 0) throw new UsageError(`job "${job}": schedule "${schedule}": "${t}" is not a value systemd's OnCalendar can take.`);
    return String(n).padStart(width, '0');
  };
  return field
    .split(',')
    .map((part) => {
      const [range, step] = part.split('/') as [string, string | undefined];
      if (step !== undefined && !/^\d+$/.test(step)) throw new UsageError(`job "${job}": schedule "${schedule}": step "${step}" is not a number.`);
      if (range === '*') return step ? `${String(base).padStart(width, '0')}/${step}` : '*';
      const [a, b] = range.split('-') as [string, string | undefined];
      if (b === undefined) return step ? `${num(a)}/${step}` : num(a);
      if (step) throw new UsageError(`job "${job}": schedule "${schedule}": a stepped range (${part}) has no OnCalendar form; list the values.`);
      return `${num(a)}..${num(b)}`;
    })
    .join(',');
}

/** The [Timer] lines that fire on the job's schedule (without Persistent/RandomizedDelaySec). */
export function systemdTimer(job: string, given: string, timezone?: string, host?: string): string[] {
  const schedule = concreteSchedule(job, given, host);
  const ms = parseDuration(schedule);
  if (ms !== undefined) {
    const calendar = (ms % MINUTE === 0 && ms < HOUR && HOUR % ms === 0) || (ms % HOUR === 0 && ms <= DAY && DAY % ms === 0);
    if (calendar) return [`OnCalendar=${calendarFor(job, intervalCron(job, schedule, ms), timezone)}`];
    // A monotonic timer: from boot, then after each run started.
    return ['OnBootSec=5min', `OnUnitActiveSec=${Math.round(ms / 1000)}s`];
  }
  return [`OnCalendar=${calendarFor(job, cronFields(job, schedule).join(' '), timezone)}`];
}

function calendarFor(job: string, cron: string, timezone?: string): string {
  const [min, hour, dom, mon, dow] = cron.split(' ') as [string, string, string, string, string];
  // cron fires when day-of-month OR day-of-week matches if both are set; OnCalendar requires both.
  if (dom !== '*' && dow !== '*')
    throw new UsageError(`job "${job}": schedule "${cron}" restricts both the day of the month and the day of the week (cron: either one), which OnCalendar cannot say; split it in two jobs or drop one.`);
  const days =
    dow === '*'
      ? ''
      : dow
          .split(',')
          .map((part) => {
            const name = (t: string) => {
              const i = DOWS.indexOf(t.toLowerCase());
              const n = i >= 0 ? i : Number(t);
              if (!Number.isInteger(n) || n < 0 || n > 7) throw new UsageError(`job "${job}": schedule "${cron}": "${t}" is not a day of the week.`);
              return DOW[n]!;
            };
            if (part.includes('/')) throw new UsageError(`job "${job}": schedule "${cron}": a stepped day of the week has no OnCalendar form; list the days.`);
            const [a, b] = part.split('-') as [string, string | undefined];
            return b === undefined ? name(a) : `${name(a)}..${name(b)}`;
          })
          .join(',') + ' ';
  const date = `*-${calendarField(job, cron, mon, MONTHS, 1)}-${calendarField(job, cron, dom, [], 1)}`;
  const time = `${calendarField(job, cron, hour)}:${calendarField(job, cron, min)}:00`;
  return `${days}${date} ${time}${timezone ? ` ${timezone}` : ''}`;
}
