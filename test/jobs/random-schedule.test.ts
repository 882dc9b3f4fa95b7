import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CronJob } from 'kubernetes-models/batch/v1/CronJob';
import { resolveRandomSchedule } from '../../src/jobs/random-schedule.js';
import { describeSchedule, jobSchedules, parseSchedule, Scheduler } from '../../src/jobs/scheduler.js';
import { parseConfigText } from '../../src/config/load.js';
import { kubernetesSchedule, systemdTimer } from '../../src/export/schedule.js';
import { silentLogger } from '../../src/util/logger.js';
import { runCli } from '../../testutils/cli.js';
import { startDaemon } from '../../testutils/daemon-process.js';
import { requireBinary } from '../../testutils/binaries.js';

const configText = (schedule: string, names = ['app']) =>
  `jobs:\n${names.map((n) => `  - name: ${n}\n    dbdriver: mysqldump\n    dbdsn: root:\${DB_PASS}@tcp(127.0.0.1:1)/x\n    schedule: "${schedule}"\n    storage: { local: [{ path: /tmp/onedump-rs-${n}.sql }] }\n`).join('')}`;

describe('@daily-random and @hourly-random', () => {
  it('are a time stable for a job and host, pinned to sha256(job, host), and different between jobs and hosts', () => {
    // Pinned: a change of the hash would move every user's backups to other times.
    expect(resolveRandomSchedule('@daily-random', 'app', 'db1')).toBe('5 16 * * *');
    expect(resolveRandomSchedule('@daily-random', 'app', 'db2')).toBe('0 6 * * *');
    expect(resolveRandomSchedule('@hourly-random', 'app', 'db1')).toBe('5 * * * *');
    expect(resolveRandomSchedule('@daily-random', 'app', 'db1')).toBe(resolveRandomSchedule('@daily-random', 'app', 'db1'));
    // 500 databases: spread over the day, not all at 03:00.
    const times = Array.from({ length: 500 }, (_, i) => resolveRandomSchedule('@daily-random', `db${i}`, 'host'));
    const hours = new Set(times.map((t) => Number(t.split(' ')[1])));
    const perMinute = new Map<string, number>();
    for (const t of times) perMinute.set(t, (perMinute.get(t) ?? 0) + 1);
    expect(hours.size).toBe(24);
    expect(Math.max(...perMinute.values())).toBeLessThanOrEqual(5);
    for (const t of times) {
      const [m, h] = t.split(' ').map(Number) as [number, number];
      expect(m >= 0 && m < 60 && h >= 0 && h < 24).toBe(true);
    }
    const minutes = new Set(Array.from({ length: 200 }, (_, i) => resolveRandomSchedule('@hourly-random', `db${i}`, 'host').split(' ')[0]));
    expect(minutes.size).toBeGreaterThan(45);
  });

  it('the daemon parser turns them into a cron schedule on this host, described as spread', () => {
    const s = parseSchedule('@daily-random', 'Europe/Berlin', 'app', 'db1');
    expect(s).toEqual({ kind: 'cron', text: '@daily-random', expression: '5 16 * * *', timezone: 'Europe/Berlin' });
    expect(describeSchedule(s)).toBe('@daily-random, spread by job name and host: cron "5 16 * * *" (Europe/Berlin)');
    const c = parseConfigText(configText('@hourly-random', ['a', 'b']), 'test.yml', { DB_PASS: 'pw' }).config;
    const plan = jobSchedules(c, ['a', 'b']);
    expect(plan.get('a')).toMatchObject({ kind: 'cron', expression: resolveRandomSchedule('@hourly-random', 'a', hostname()) });
    expect(plan.get('b')).toMatchObject({ kind: 'cron', expression: resolveRandomSchedule('@hourly-random', 'b', hostname()) });
    // The scheduler fires at that minute.
    const sched = new Scheduler(() => undefined, silentLogger);
    try {
      sched.set('a', plan.get('a')!);
      const next = sched.nextRun('a')!;
      expect(next.getMinutes()).toBe(Number(resolveRandomSchedule('@hourly-random', 'a', hostname()).split(' ')[0]));
      expect(next.getTime() - Date.now()).toBeLessThanOrEqual(3_600_000);
    } finally {
      sched.stop();
    }
    // Other @-words are not schedules onedump knows.
    expect(() => parseConfigText(configText('@weekly-random'), 'test.yml', { DB_PASS: 'pw' })).toThrow(/jobs\[0\]\.schedule: "@weekly-random" is neither a cron expression/);
  });

  it('the daemon logs the concrete time at start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-rs-'));
    const cfg = join(dir, 'jobs.yml');
    writeFileSync(cfg, configText('@daily-random'));
    const d = startDaemon(['--daemon', '-c', cfg], { env: { DB_PASS: 'pw' } });
    try {
      const line = await d.waitForLog(/job "app" scheduled/);
      const cron = resolveRandomSchedule('@daily-random', 'app', hostname());
      expect(line.msg).toMatch(new RegExp(`^job "app" scheduled @daily-random, spread by job name and host: cron "${cron.replace(/\*/g, '\\*')}"; next run \\d{4}-`));
    } finally {
      d.signal('SIGTERM');
      await d.exited(20_000);
    }
  }, 60_000);

  it('export renders the concrete time: a CronJob schedule and an OnCalendar= that systemd accepts', async () => {
    expect(kubernetesSchedule('app', '@daily-random', 'db1')).toBe('5 16 * * *');
    expect(systemdTimer('app', '@daily-random', 'UTC', 'db1')).toEqual(['OnCalendar=*-*-* 16:05:00 UTC']);
    expect(systemdTimer('app', '@hourly-random', undefined, 'db1')).toEqual(['OnCalendar=*-*-* *:05:00']);
    const dir = mkdtempSync(join(tmpdir(), 'onedump-rs-'));
    const cfg = join(dir, 'jobs.yml');
    writeFileSync(cfg, configText('@daily-random', ['app', 'billing']));
    const k = await runCli(['export', 'kubernetes', '-c', cfg, '--host', 'db1']);
    expect(k.code, k.stderr).toBe(0);
    const cronJobs = parseAllDocuments(k.stdout)
      .map((d) => d.toJS() as Record<string, any>) // eslint-disable-line @typescript-eslint/no-explicit-any
      .filter((o) => o?.kind === 'CronJob');
    for (const o of cronJobs) new CronJob(o as never).validate();
    expect(cronJobs.map((o) => o.spec.schedule)).toEqual([resolveRandomSchedule('@daily-random', 'app', 'db1'), resolveRandomSchedule('@daily-random', 'billing', 'db1')]);
    const out = join(dir, 'units');
    const s = await runCli(['export', 'systemd', '-c', cfg, '--out', out]);
    expect(s.code, s.stderr).toBe(0);
    const [m, h] = resolveRandomSchedule('@daily-random', 'app', hostname()).split(' ') as [string, string];
    const calendar = `*-*-* ${h.padStart(2, '0')}:${m.padStart(2, '0')}:00`;
    expect(readFileSync(join(out, 'onedump-app.timer'), 'utf8').split('\n')).toContain(`OnCalendar=${calendar}`);
    const analyze = requireBinary('systemd-analyze');
    const v = spawnSync(analyze, ['calendar', calendar], { encoding: 'utf8' });
    expect(v.status, v.stderr).toBe(0);
    expect(v.stdout).toContain(`Normalized form: *-*-* ${h.padStart(2, '0')}:${m.padStart(2, '0')}:00`);
  }, 60_000);
});
