import { createHash } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * `@daily-random` and `@hourly-random`: a time spread over the period, so that five hundred jobs written with the same
 * schedule do not all start at 03:00. The time is a hash of the job name and the host name, so it is stable (the same
 * job on the same host always runs at the same minute, across restarts and reloads) and different between jobs and
 * between hosts. It resolves to a plain cron expression, which the daemon schedules and `export` renders.
 */
export const RANDOM_SCHEDULES = ['@daily-random', '@hourly-random'] as const;
export type RandomSchedule = (typeof RANDOM_SCHEDULES)[number];

export function isRandomSchedule(text: string): text is RandomSchedule {
  return (RANDOM_SCHEDULES as readonly string[]).includes(text.trim());
}

/** A number in [0, n) from the job name and host: the first 48 bits of sha256("job\0host"). */
function spread(job: string, host: string, n: number): number {
  const h = createHash('sha256').update(`${job}\0${host}`).digest();
  return h.readUIntBE(0, 6) % n;
}

/** The 5-field cron expression a random schedule stands for, for this job on this host (default: this machine). */
export function resolveRandomSchedule(text: RandomSchedule, job: string, host: string = hostname()): string {
  if (text.trim() === '@hourly-random') return `${spread(job, host, 60)} * * * *`;
  const minuteOfDay = spread(job, host, 24 * 60);
  return `${minuteOfDay % 60} ${Math.floor(minuteOfDay / 60)} * * *`;
}
