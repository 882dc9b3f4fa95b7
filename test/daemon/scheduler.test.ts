import { afterEach, describe, expect, it } from 'vitest';
import { jobSchedules, parseSchedule, Scheduler } from '../../src/jobs/scheduler.js';
import { parseConfigText } from '../../src/config/load.js';
import { silentLogger } from '../../src/util/logger.js';
import { UsageError } from '../../src/util/errors.js';

let scheduler: Scheduler | undefined;
afterEach(() => scheduler?.stop());

const config = (top: string, jobs: string) =>
  parseConfigText(
    `${top}\njobs:\n${jobs
      .split(',')
      .map((j) => {
        const [name, schedule] = j.split('=');
        return `  - name: ${name}\n    dbdriver: mysqldump\n    dbdsn: root:pw@tcp(127.0.0.1:1)/x\n${schedule ? `    schedule: "${schedule}"\n` : ''}    storage: { local: [{ path: /tmp/${name}.sql }] }\n`;
      })
      .join('')}`,
    'test.yml',
    {},
  ).config;

describe('schedules', () => {
  it('parses durations as intervals and cron expressions (5 or 6 fields) with a time zone', () => {
    expect(parseSchedule('21h')).toEqual({ kind: 'interval', text: '21h', everyMs: 21 * 3_600_000 });
    expect(parseSchedule('2s')).toMatchObject({ kind: 'interval', everyMs: 2000 });
    expect(parseSchedule('0 3 * * *', 'Europe/Berlin')).toEqual({
      kind: 'cron',
      text: '0 3 * * *',
      expression: '0 3 * * *',
      timezone: 'Europe/Berlin',
    });
    expect(parseSchedule('*/2 * * * * *')).toMatchObject({ kind: 'cron' });
    expect(() => parseSchedule('every tuesday')).toThrow(UsageError);
  });

  it('per-job schedules override the top level; --cron overrides both; a job without one is refused', () => {
    const c = config('schedule: 6h\ntimezone: Asia/Tokyo', 'a,b=30 2 * * *');
    const s = jobSchedules(c, ['a', 'b']);
    expect(s.get('a')).toMatchObject({ kind: 'interval', everyMs: 6 * 3_600_000 });
    expect(s.get('b')).toMatchObject({ kind: 'cron', expression: '30 2 * * *', timezone: 'Asia/Tokyo' });
    const forced = jobSchedules(c, ['a', 'b'], '1h');
    expect([...forced.values()].map((x) => x.text)).toEqual(['1h', '1h']);
    expect(() => jobSchedules(config('', 'a,b=1h,c'), ['a', 'b', 'c'])).toThrow('jobs "a", "c" have no schedule');
  });

  it('computes the next cron run in the configured time zone', () => {
    scheduler = new Scheduler(() => undefined, silentLogger);
    scheduler.set('syd', parseSchedule('0 3 * * *', 'Australia/Sydney'));
    scheduler.set('utc', parseSchedule('0 3 * * *', 'UTC'));
    const hourIn = (d: Date, tz: string) => new Intl.DateTimeFormat('en-GB', { timeZone: tz, hour: '2-digit', hourCycle: 'h23' }).format(d);
    const syd = scheduler.nextRun('syd')!;
    const utc = scheduler.nextRun('utc')!;
    expect(hourIn(syd, 'Australia/Sydney')).toBe('03');
    expect(syd.getUTCMinutes()).toBe(0);
    expect(hourIn(utc, 'UTC')).toBe('03');
    expect(syd.getTime()).not.toBe(utc.getTime());
    expect(syd.getTime() - Date.now()).toBeLessThanOrEqual(86_400_000);
  });

  it('runs intervals at a fixed rate, the first at once, and stops cleanly', async () => {
    const ticks: number[] = [];
    scheduler = new Scheduler(() => ticks.push(Date.now()), silentLogger);
    const t0 = Date.now();
    scheduler.set('fast', parseSchedule('200ms'), { runNow: true });
    await new Promise((r) => setTimeout(r, 700));
    scheduler.stop();
    const n = ticks.length;
    expect(n).toBeGreaterThanOrEqual(3);
    expect(n).toBeLessThanOrEqual(5);
    expect(ticks[0]! - t0).toBeLessThan(100);
    expect(scheduler.nextRun('fast')).toBeUndefined();
    await new Promise((r) => setTimeout(r, 300));
    expect(ticks.length).toBe(n);
  });

  it('a seconds cron fires every second', async () => {
    let ticks = 0;
    scheduler = new Scheduler(() => ticks++, silentLogger);
    scheduler.set('s', parseSchedule('* * * * * *'));
    await new Promise((r) => setTimeout(r, 2300));
    expect(ticks).toBeGreaterThanOrEqual(2);
    expect(ticks).toBeLessThanOrEqual(3);
  });
});
