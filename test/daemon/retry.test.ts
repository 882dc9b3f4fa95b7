import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { sharedMariaDB, uniqueName } from '../../testutils/servers.js';
import { startCutProxy, type CutProxy } from '../../testutils/proxy.js';
import { parseConfigText } from '../../src/config/load.js';
import { runJobs } from '../../src/jobs/runner.js';
import { startDaemon } from '../../testutils/daemon-process.js';
import { freePort } from '../../testutils/ports.js';
import { writeFileSync } from 'node:fs';

const db = sharedMariaDB();
const DB = uniqueName('retry');
let proxy: CutProxy;

beforeAll(async () => {
  const c = await db.connect();
  await c.query(`CREATE DATABASE ${DB}; CREATE TABLE ${DB}.t (id INT PRIMARY KEY, v TEXT); INSERT INTO ${DB}.t VALUES (1, 'recovered');`);
  await c.end();
});
afterAll(async () => {
  await proxy?.close();
  const c = await db.connect();
  await c.query(`DROP DATABASE IF EXISTS ${DB}`);
  await c.end();
});

function capturingLogger() {
  const lines: Array<{ level: number; msg: string }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { log: pino({ level: 'info' }, sink), lines };
}

const job = (name: string, port: number, dir: string, extra = '') =>
  `  - name: ${name}\n    dbdriver: mysqldump\n    dbdsn: ${db.user}:${db.password}@tcp(127.0.0.1:${port})/${DB}\n${extra}    storage: { local: [{ path: ${dir}/${name}.sql }] }\n`;

describe('retries with the default policy', () => {
  it('a database that refuses connections for 10 s, then recovers: the job succeeds on retry soon after recovery', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-retry-'));
    proxy = await startCutProxy({ host: db.host, port: db.port }, { refusing: true });
    const loaded = parseConfigText(`jobs:\n${job('flaky', proxy.port, dir)}`, 'test.yml', {});
    const { log, lines } = capturingLogger();
    const started = Date.now();
    let recoveredAt = 0;
    const recovery = setTimeout(() => {
      void proxy.accept().then(() => (recoveredAt = Date.now()));
    }, 10_000);
    try {
      const summary = await runJobs(loaded, { log, notifiers: [] });
      const r = summary.results[0]!;
      expect(r.error).toBeUndefined();
      expect(r.ok).toBe(true);
      expect(recoveredAt).toBeGreaterThan(started);
      const finished = Date.parse(r.finishedAt);
      expect(finished - recoveredAt).toBeLessThan(30_000);
      // With the 8 s cap the retry after recovery comes within about 8 s.
      expect(finished - recoveredAt).toBeLessThan(10_000);
      expect(readFileSync(join(dir, 'flaky.sql'), 'utf8')).toContain("(1,'recovered')");
      const retries = lines.filter((l) => /failed with a transient fault .*Can't connect to .*server.*; retry \d+ in \d+ ms/.test(l.msg));
      expect(retries.length).toBeGreaterThanOrEqual(3);
      expect(proxy.connections).toBeGreaterThanOrEqual(1);
    } finally {
      clearTimeout(recovery);
    }
  }, 60_000);

  it('a permanent fault (wrong password) fails at once, without retries', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-retry-'));
    const yaml = `jobs:\n  - name: denied\n    dbdriver: mysqldump\n    dbdsn: ${db.user}:wrong-password@tcp(127.0.0.1:${db.port})/${DB}\n    storage: { local: [{ path: ${dir}/denied.sql }] }\n`;
    const { log, lines } = capturingLogger();
    const t0 = Date.now();
    const summary = await runJobs(parseConfigText(yaml, 'test.yml', {}), { log, notifiers: [] });
    expect(summary.results[0]!.ok).toBe(false);
    expect(summary.results[0]!.error).toMatch(/Access denied/);
    expect(lines.filter((l) => /transient fault/.test(l.msg))).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it('a per-job retry: section bounds the attempts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-retry-'));
    const closed = await startCutProxy({ host: db.host, port: db.port }, { refusing: true });
    const loaded = parseConfigText(
      `jobs:\n${job('bounded', closed.port, dir, '    retry: { attempts: 3, initial: 100ms, max: 200ms }\n')}`,
      'test.yml',
      {},
    );
    const { log, lines } = capturingLogger();
    const summary = await runJobs(loaded, { log, notifiers: [] });
    expect(summary.results[0]!.ok).toBe(false);
    expect(summary.results[0]!.error).toMatch(/Can't connect to .*server/);
    expect(lines.filter((l) => /transient fault/.test(l.msg))).toHaveLength(2);
    await closed.close();
  });
});

describe('retries in the daemon', () => {
  it('a database down for 10 s: the scheduled run recovers on retry, and /healthz and /metrics say so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-retry-'));
    const down = await startCutProxy({ host: db.host, port: db.port }, { refusing: true });
    const config = join(dir, 'jobs.yml');
    writeFileSync(config, `jobs:\n${job('nightly', down.port, dir, '    schedule: 1h\n')}`);
    const healthPort = await freePort();
    const daemon = startDaemon(['--daemon', '-c', config, '--health-port', String(healthPort)]);
    try {
      await daemon.waitForLog(/job "nightly" started/);
      await daemon.waitForLog(/failed with a transient fault/);
      await new Promise((r) => setTimeout(r, 10_000));
      await down.accept();
      const recoveredAt = Date.now();
      await daemon.waitForLog(/job "nightly" run 1 finished/, 30_000);
      expect(Date.now() - recoveredAt).toBeLessThan(30_000);
      const health = await (await fetch(`http://127.0.0.1:${healthPort}/healthz`)).json();
      expect(health.jobs[0]).toMatchObject({ job: 'nightly', runs: 1, failures: 0, lastRun: { ok: true } });
      expect(Date.parse(health.jobs[0].lastRun.finishedAt)).toBeGreaterThanOrEqual(recoveredAt);
      const metrics = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
      expect(metrics).toMatch(/^onedump_job_runs_total\{job="nightly"\} 1$/m);
      expect(metrics).toMatch(/^onedump_job_failures_total\{job="nightly"\} 0$/m);
      const lastSuccess = Number(metrics.match(/^onedump_job_last_success_timestamp_seconds\{job="nightly"\} (\S+)$/m)![1]);
      expect(lastSuccess * 1000).toBeGreaterThanOrEqual(recoveredAt - 1000);
      expect(readFileSync(join(dir, 'nightly.sql'), 'utf8')).toContain("(1,'recovered')");
      daemon.signal('SIGTERM');
      expect((await daemon.exited()).code).toBe(0);
    } finally {
      daemon.kill();
      await down.close();
    }
  }, 90_000);
});
