import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../testutils/cli.js';
import { DUMP_COMPLETED, fakeDumpBinary } from '../../testutils/fake-dump.js';
import { sampleValue, startNodeExporter, startPushgateway, type PromServer } from '../../testutils/prometheus.js';

// One-shot runs report to a real Pushgateway and to a real node-exporter's textfile collector (Debian's packages).
let gateway: PromServer;
let exporter: PromServer;
const textDir = mkdtempSync(join(tmpdir(), 'onedump-textfile-'));

beforeAll(async () => {
  [gateway, exporter] = await Promise.all([startPushgateway(), startNodeExporter(textDir)]);
}, 60_000);
afterAll(async () => {
  await Promise.all([gateway?.stop(), exporter?.stop()]);
});

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'onedump-push-'));
  const good = fakeDumpBinary(`echo "CREATE TABLE t (id int);"\n${DUMP_COMPLETED}`, dir);
  const bad = fakeDumpBinary('echo "mysqldump: Got error: 1045: Access denied" >&2\nexit 2', dir);
  const cfg = (bin: string, name = 'app') => {
    const path = join(dir, `${name}.yml`);
    writeFileSync(path, `jobs:\n  - name: ${name}\n    dbdriver: mysqldump\n    dbdsn: root@tcp(127.0.0.1:3306)/app\n    driverpath: ${bin}\n    storage: { local: [{ path: ${dir}/${name}.sql }] }\n`);
    return path;
  };
  return { dir, good, bad, cfg, env: { ONEDUMP_LOCK_DIR: join(dir, 'locks') } };
}

describe('--pushgateway and --metrics-textfile', () => {
  it('a success sets the last-success gauges; a later failure keeps them and records the failure, in both', async () => {
    const s = setup();
    const textfile = join(textDir, 'onedump.prom');
    const report = ['--pushgateway', gateway.url, '--pushgateway-label', 'instance=db1', '--metrics-textfile', textfile, '--expected-interval', '1d'];
    const t0 = Date.now() / 1000;
    const ok = await runCli(['dump', '-c', s.cfg(s.good), ...report], { env: s.env });
    expect(ok.code).toBe(0);
    const grouped = { instance: 'db1', job: 'app' };
    let pushed = await gateway.scrape();
    const success = sampleValue(pushed, 'onedump_job_last_success_timestamp_seconds', grouped)!;
    expect(success).toBeGreaterThanOrEqual(Math.floor(t0));
    expect(sampleValue(pushed, 'onedump_job_last_run_success', grouped)).toBe(1);
    expect(sampleValue(pushed, 'onedump_job_expected_interval_seconds', grouped)).toBe(86400);
    expect(sampleValue(pushed, 'onedump_job_last_bytes', grouped)).toBe(readFileSync(join(s.dir, 'app.sql')).length);
    expect(sampleValue(pushed, 'onedump_job_last_failure_timestamp_seconds', grouped)).toBeUndefined();
    let scraped = await exporter.scrape();
    expect(sampleValue(scraped, 'node_textfile_scrape_error', {})).toBe(0);
    expect(sampleValue(scraped, 'onedump_job_last_success_timestamp_seconds', { job: 'app' })).toBe(success);
    expect(sampleValue(scraped, 'onedump_job_last_run_success', { job: 'app' })).toBe(1);

    // Another job's run in the same textfile keeps app's samples.
    expect((await runCli(['dump', '-c', s.cfg(s.good, 'other'), '--metrics-textfile', textfile], { env: s.env })).code).toBe(0);
    const fail = await runCli(['dump', '-c', s.cfg(s.bad), ...report], { env: s.env });
    expect(fail.code).toBe(1);
    pushed = await gateway.scrape();
    expect(sampleValue(pushed, 'onedump_job_last_success_timestamp_seconds', grouped)).toBe(success);
    expect(sampleValue(pushed, 'onedump_job_last_run_success', grouped)).toBe(0);
    expect(sampleValue(pushed, 'onedump_job_last_failure_timestamp_seconds', grouped)).toBeGreaterThanOrEqual(success);
    scraped = await exporter.scrape();
    expect(sampleValue(scraped, 'node_textfile_scrape_error', {})).toBe(0);
    expect(sampleValue(scraped, 'onedump_job_last_success_timestamp_seconds', { job: 'app' })).toBe(success);
    expect(sampleValue(scraped, 'onedump_job_last_run_success', { job: 'app' })).toBe(0);
    expect(sampleValue(scraped, 'onedump_job_last_run_success', { job: 'other' })).toBe(1);
    expect(readdirSync(textDir)).toEqual(['onedump.prom']); // no temporary file left for the collector to trip on
  }, 60_000);

  it('an interval schedule is the expected interval when none is given', async () => {
    const s = setup();
    const path = s.cfg(s.good, 'hourly');
    writeFileSync(path, readFileSync(path, 'utf8').replace('    dbdriver:', '    schedule: 6h\n    dbdriver:'));
    const textfile = join(s.dir, 'm.prom');
    expect((await runCli(['dump', '-c', path, '--metrics-textfile', textfile], { env: s.env })).code).toBe(0);
    expect(readFileSync(textfile, 'utf8')).toMatch(/^onedump_job_expected_interval_seconds\{job="hourly"\} 21600$/m);
  });

  it('an unreachable Pushgateway is one sentence and exit 1, the backup still stored; bad flags are exit 2 before anything runs', async () => {
    const s = setup();
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', () => r()));
    const port = (dead.address() as { port: number }).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const r = await runCli(['dump', '-c', s.cfg(s.good), '--pushgateway', '-', '--log-format', 'json'], {
      env: { ...s.env, ONEDUMP_PUSHGATEWAY_URL: `http://ops:s3cret-pw@127.0.0.1:${port}` },
      timeoutMs: 120_000,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`the Pushgateway at http://127.0.0.1:${port} could not be reached: ECONNREFUSED`);
    expect(r.stderr).not.toContain('s3cret-pw');
    expect(readFileSync(join(s.dir, 'app.sql'), 'utf8')).toContain('CREATE TABLE t');

    for (const [args, message] of [
      [['--pushgateway', 'not a url'], 'onedump: --pushgateway is not a URL such as http://pushgateway:9091.\n'],
      [['--pushgateway-label', 'job=x', '--pushgateway', gateway.url], "onedump: --pushgateway-label job=… is not allowed: the job label is each job's name.\n"],
      [['--metrics-textfile', join(s.dir, 'm.txt')], `onedump: --metrics-textfile ${join(s.dir, 'm.txt')}: node-exporter reads only files whose name ends in .prom.\n`],
      [['--pushgateway', '-'], 'onedump: --pushgateway - reads the URL from ONEDUMP_PUSHGATEWAY_URL, which is not set.\n'],
    ] as const) {
      const bad = await runCli(['dump', '-c', s.cfg(s.good, 'never'), ...args], { env: s.env });
      expect({ code: bad.code, stderr: bad.stderr }).toEqual({ code: 2, stderr: message });
    }
    expect(readdirSync(s.dir).filter((f) => f.startsWith('never.sql'))).toEqual([]);
  }, 180_000);

  it('a password in --pushgateway is masked in the process list and never printed', async () => {
    const s = setup();
    const r = await runCli(['dump', '-c', s.cfg(s.good), '--pushgateway', 'http://ops:pw-in-argv@127.0.0.1:1', '--log-format', 'json'], { env: s.env, timeoutMs: 120_000 });
    expect(r.stderr).toMatch(/^onedump: warning: a password on the command line \(--pushgateway\) can be seen by other users of this machine; use --pushgateway - with the URL in ONEDUMP_PUSHGATEWAY_URL\./);
    expect(r.stderr + r.stdout).not.toContain('pw-in-argv');
    expect(r.code).toBe(1);
  }, 180_000);
});
