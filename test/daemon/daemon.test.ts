import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedMariaDB, uniqueName } from '../../testutils/servers.js';
import { startHttpRecorder, type HttpRecorder } from '../../testutils/http-recorder.js';
import { startDaemon, type DaemonProcess } from '../../testutils/daemon-process.js';
import { DUMP_COMPLETED, fakeDumpBinary } from '../../testutils/fake-dump.js';
import { freePort } from '../../testutils/ports.js';
import { runCli } from '../../testutils/cli.js';

const db = sharedMariaDB();
const DB = uniqueName('daemon');
let rec: HttpRecorder;
let daemon: DaemonProcess | undefined;

beforeAll(async () => {
  const c = await db.connect();
  await c.query(
    `CREATE DATABASE ${DB}; CREATE TABLE ${DB}.items (id INT PRIMARY KEY, name VARCHAR(50)); INSERT INTO ${DB}.items VALUES (1, 'alpha'), (2, 'beta');`,
  );
  await c.end();
  rec = await startHttpRecorder();
});
afterAll(async () => {
  const c = await db.connect();
  await c.query(`DROP DATABASE IF EXISTS ${DB}`);
  await c.end();
  await rec.close();
});
afterEach(() => {
  daemon?.kill();
  daemon = undefined;
});

function metric(text: string, name: string, job: string): number | undefined {
  const m = text.match(new RegExp(`^${name}\\{job="${job}"\\} (\\S+)$`, 'm'));
  return m ? Number(m[1]) : undefined;
}

const slackTexts = (path: string) => rec.delivered(path).map((r) => r.json.text as string);

describe('onedump --daemon', () => {
  it('runs two jobs on their schedules, reports success and failure to Slack, keeps going, serves health, survives a bad SIGHUP, stops on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-daemon-'));
    const hookPath = `/slack-${Math.random().toString(36).slice(2)}`;
    const webhookPath = `${hookPath}-generic`;
    const healthPort = await freePort();
    const configText = `
schedule: 2s
notifier:
  slack:
    - incomingwebhook: ${rec.url}${hookPath}
  webhook:
    - url: ${rec.url}${webhookPath}
jobs:
  - name: good
    dbdriver: mysqldump
    dbdsn: ${db.dsn(DB)}
    unique: true
    storage:
      local:
        - path: ${dir}/good/items.sql
  - name: broken
    schedule: "*/2 * * * * *"
    dbdriver: mysqldump
    dbdsn: ${db.dsn('no_such_database_here')}
    storage:
      local:
        - path: ${dir}/broken/items.sql
`;
    const config = join(dir, 'jobs.yml');
    writeFileSync(config, configText);
    // The first Slack post fails with 500: the notifier retries it.
    rec.failNext(1, 500, hookPath);
    daemon = startDaemon(['--daemon', '-c', config, '--health-port', String(healthPort)]);
    await rec.waitFor(
      () =>
        slackTexts(hookPath).filter((t) => t.startsWith('Backup job "good" succeeded')).length >= 3 &&
        slackTexts(hookPath).filter((t) => t.startsWith('Backup job "broken" FAILED')).length >= 2,
      40_000,
      'three successes of "good" and two failures of "broken" on Slack',
    );
    expect(rec.requests.filter((r) => r.path === hookPath)[0]!.status).toBe(500);

    const success = rec.delivered(hookPath).find((r) => r.json.text.startsWith('Backup job "good" succeeded'))!.json;
    expect(success.blocks[0].text.text).toBe('✅ Backup job "good" succeeded');
    expect(success.blocks[1].fields[3].text).toMatch(/^\*SHA-256\*\n`[0-9a-f]{64}`$/);
    expect(success.blocks[2].text.text).toMatch(new RegExp(`:white_check_mark: \`local\\[0\\]\` ${dir}/good/\\d{14}-items\\.sql`));
    const failure = rec.delivered(hookPath).find((r) => r.json.text.startsWith('Backup job "broken" FAILED'))!.json;
    expect(failure.text).toMatch(/Unknown database 'no_such_database_here'/);
    expect(failure.blocks[2].text.text).toContain(`:x: \`local[0]\` ${dir}/broken/items.sql`);
    expect(JSON.stringify(rec.delivered(hookPath))).not.toContain(db.password);
    // The generic webhook got the same outcomes as JSON events.
    const hookTypes = new Set(rec.delivered(webhookPath).map((r) => `${r.json.type}:${r.json.job}`));
    expect(hookTypes).toEqual(new Set(['success:good', 'failure:broken']));

    // Health and metrics after those runs.
    const health = await (await fetch(`http://127.0.0.1:${healthPort}/healthz`)).json();
    const metrics = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
    expect(health.status).toBe('running');
    const good = health.jobs.find((j: { job: string }) => j.job === 'good');
    const broken = health.jobs.find((j: { job: string }) => j.job === 'broken');
    expect(good).toMatchObject({ schedule: '2s', failures: 0, lastRun: { ok: true } });
    expect(good.runs).toBeGreaterThanOrEqual(3);
    expect(good.lastRun.bytes).toBeGreaterThan(500);
    expect(Date.parse(good.nextRun)).toBeGreaterThan(Date.now() - 1000);
    expect(Date.parse(good.lastSuccessAt)).toBeGreaterThan(Date.now() - 10_000);
    expect(broken).toMatchObject({ schedule: '*/2 * * * * *', lastSuccessAt: null, lastRun: { ok: false } });
    expect(broken.runs).toBeGreaterThanOrEqual(2);
    expect(broken.failures).toBe(broken.runs);
    expect(broken.lastRun.error).toMatch(/Unknown database/);
    expect(new Date(broken.nextRun).getUTCSeconds() % 2).toBe(0);

    expect(metric(metrics, 'onedump_job_runs_total', 'good')).toBeGreaterThanOrEqual(good.runs);
    expect(metric(metrics, 'onedump_job_failures_total', 'good')).toBe(0);
    expect(metric(metrics, 'onedump_job_failures_total', 'broken')).toBeGreaterThanOrEqual(broken.failures);
    expect(metric(metrics, 'onedump_job_runs_total', 'broken')).toBe(metric(metrics, 'onedump_job_failures_total', 'broken'));
    expect(metric(metrics, 'onedump_job_bytes_total', 'good')).toBeGreaterThanOrEqual(good.runs * good.lastRun.bytes);
    expect(metric(metrics, 'onedump_job_bytes_total', 'broken')).toBe(0);
    expect(metric(metrics, 'onedump_job_last_success_timestamp_seconds', 'good')! * 1000).toBeGreaterThanOrEqual(
      Date.parse(good.lastSuccessAt) - 1,
    );
    expect(metric(metrics, 'onedump_job_last_success_timestamp_seconds', 'broken')).toBeUndefined();
    expect(metric(metrics, 'onedump_job_duration_seconds_count', 'good')).toBeGreaterThanOrEqual(good.runs);
    expect(metrics).toMatch(/^# TYPE onedump_job_duration_seconds histogram$/m);

    // SIGHUP with a broken config: the old schedule stays, and the log says why.
    writeFileSync(config, configText.replace('schedule: 2s', 'schedule: every tuesday'));
    daemon.signal('SIGHUP');
    const why = await daemon.waitForLog(/reloaded configuration is invalid/);
    expect(why.level).toBe('error');
    expect(why.msg).toMatch(/keeping the previous one: .*schedule: "every tuesday" is neither a cron expression/);
    const before = slackTexts(hookPath).length;
    await rec.waitFor(() => slackTexts(hookPath).length >= before + 3, 15_000, 'more runs after the bad reload');
    const after = await (await fetch(`http://127.0.0.1:${healthPort}/healthz`)).json();
    expect(after.lastReload).toMatchObject({ ok: false });
    expect(after.jobs.map((j: { schedule: string }) => j.schedule)).toEqual(['2s', '*/2 * * * * *']);
    expect(await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text()).toMatch(
      /^onedump_config_reloads_total\{result="error"\} 1$/m,
    );

    daemon.signal('SIGTERM');
    expect(await daemon.exited(20_000)).toEqual({ code: 0, signal: null });
    expect(daemon.logs.some((l) => l.msg === 'daemon stopped')).toBe(true);
    // Checked once the daemon stopped (a run every 2 s has a .partial file while it is in flight): every successful
    // run left a complete dump under its own name; the failing job left nothing, nor did the stop.
    const all = readdirSync(join(dir, 'good'));
    const dumps = all.filter((f) => !f.endsWith('.manifest.json'));
    expect(all.filter((f) => f.endsWith('.manifest.json')).sort()).toEqual(dumps.map((f) => `${f}.manifest.json`).sort());
    expect(dumps.length).toBeGreaterThanOrEqual(3);
    for (const f of dumps) {
      expect(f).toMatch(/^\d{14}-items\.sql$/);
      const text = readFileSync(join(dir, 'good', f), 'utf8');
      expect(text).toContain('CREATE TABLE `items`');
      expect(text).toMatch(/-- Dump completed/);
    }
    expect(existsSync(join(dir, 'broken')) ? readdirSync(join(dir, 'broken')) : []).toEqual([]);
  }, 90_000);

  it('a good SIGHUP reload takes effect: a new job is added and runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-daemon-'));
    const bin = fakeDumpBinary(`echo "-- one"\n${DUMP_COMPLETED}`, dir);
    const job = (name: string) =>
      `  - name: ${name}\n    dbdriver: mysqldump\n    dbdsn: root:pw@tcp(127.0.0.1:1)/x\n    driverpath: ${bin}\n    storage: { local: [{ path: ${dir}/${name}.sql }] }\n`;
    const config = join(dir, 'jobs.yml');
    writeFileSync(config, `schedule: 1h\njobs:\n${job('first')}`);
    daemon = startDaemon(['--daemon', '-c', config]);
    await daemon.waitForLog(/job "first" run 1 finished/);
    writeFileSync(config, `schedule: 1h\njobs:\n${job('first')}${job('second')}`);
    daemon.signal('SIGHUP');
    await daemon.waitForLog(/configuration reloaded/);
    await daemon.waitForLog(/job "second" run 1 finished/);
    expect(readFileSync(join(dir, 'second.sql'), 'utf8')).toBe('-- one\n-- Dump completed\n');
    // "first" kept its hourly timing: it did not run again.
    expect(daemon.logs.filter((l) => /job "first" run \d+ finished/.test(l.msg))).toHaveLength(1);
    daemon.signal('SIGINT');
    expect((await daemon.exited()).code).toBe(0);
  });

  it("the Go tool's form -f FILE -c 2s runs every job at that interval, whatever the file's schedules", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-daemon-'));
    const bin = fakeDumpBinary(`echo "-- go form"\n${DUMP_COMPLETED}`, dir);
    const config = join(dir, 'jobs.yml');
    writeFileSync(
      config,
      `jobs:\n  - name: gojob\n    schedule: "0 3 * * *"\n    dbdriver: mysqldump\n    dbdsn: root:pw@tcp(127.0.0.1:1)/x\n    driverpath: ${bin}\n    unique: true\n    storage: { local: [{ path: ${dir}/out/go.sql }] }\n`,
    );
    daemon = startDaemon(['-f', config, '-c', '2s']);
    await daemon.waitForLog(/job "gojob" scheduled every 2.0s/);
    await daemon.waitForLog(/job "gojob" run 2 finished/, 15_000);
    expect(readdirSync(join(dir, 'out')).length).toBeGreaterThanOrEqual(2);
    daemon.signal('SIGTERM');
    expect((await daemon.exited()).code).toBe(0);
  });

  it("--dry-run prints each job's schedule and first run, and runs nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-daemon-'));
    const config = join(dir, 'jobs.yml');
    writeFileSync(
      config,
      `schedule: 6h\ntimezone: UTC\njobs:\n  - name: a\n    dbdriver: mysqldump\n    dbdsn: root:pw@tcp(127.0.0.1:1)/x\n    storage: { local: [{ path: ${dir}/a.sql }] }\n  - name: b\n    schedule: "15 4 * * *"\n    dbdriver: mysqldump\n    dbdsn: root:pw@tcp(127.0.0.1:1)/x\n    storage: { local: [{ path: ${dir}/b.sql }] }\n`,
    );
    const r = await runCli(['--daemon', '-c', config, '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^job "a": every 6h0m; first run \d{4}-\d\d-\d\dT[\d:.]+Z\njob "b": cron "15 4 \* \* \*" \(UTC\); first run \d{4}-\d\d-\d\dT04:15:00\.000Z\n$/,
    );
    expect(readdirSync(dir)).toEqual(['jobs.yml']);
  });

  it('refuses a bad config before starting (exit 2) and a job without schedule', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-daemon-'));
    const config = join(dir, 'jobs.yml');
    writeFileSync(
      config,
      `schedule: "61 * * * *"\njobs:\n  - name: a\n    dbdriver: mysqldump\n    dbdsn: root:pw@tcp(127.0.0.1:1)/x\n    storage: { local: [{ path: ${dir}/a.sql }] }\n`,
    );
    daemon = startDaemon(['--daemon', '-c', config]);
    expect((await daemon.exited()).code).toBe(2);
    expect(daemon.stderr()).toMatch(/schedule: "61 \* \* \* \*" is neither a cron expression/);
    writeFileSync(
      config,
      `jobs:\n  - name: a\n    dbdriver: mysqldump\n    dbdsn: root:pw@tcp(127.0.0.1:1)/x\n    storage: { local: [{ path: ${dir}/a.sql }] }\n`,
    );
    daemon = startDaemon(['--daemon', '-c', config]);
    expect((await daemon.exited()).code).toBe(2);
    expect(daemon.stderr()).toMatch(/job "a" has no schedule: set schedule: at the top level or on the job/);
  });
});
