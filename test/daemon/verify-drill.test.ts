import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedMariaDB, uniqueName } from '../../testutils/servers.js';
import { startHttpRecorder, type HttpRecorder } from '../../testutils/http-recorder.js';
import { startDaemon, type DaemonProcess } from '../../testutils/daemon-process.js';
import { freePort } from '../../testutils/ports.js';

const db = sharedMariaDB();
const DB = uniqueName('drill');
let rec: HttpRecorder;
let daemon: DaemonProcess | undefined;

beforeAll(async () => {
  const c = await db.connect();
  await c.query(`CREATE DATABASE ${DB}; CREATE TABLE ${DB}.items (id INT PRIMARY KEY, name VARCHAR(50)); INSERT INTO ${DB}.items SELECT seq, CONCAT('item ', seq) FROM ${DB}.seq_1_to_500;`);
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

describe('onedump --daemon: restore drills on verify.schedule', () => {
  it('drills the newest backup on its schedule: recorded next to it, in /metrics, and sent to notifiers; a broken backup is a failed drill', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-drill-'));
    const healthPort = await freePort();
    const hook = `/drill-${Math.random().toString(36).slice(2)}`;
    const config = join(dir, 'jobs.yml');
    writeFileSync(
      config,
      `
notifier:
  webhook:
    - url: ${rec.url}${hook}
      onsuccess: true
jobs:
  - name: nightly
    schedule: 1h
    dbdriver: mysql
    dbdsn: ${db.dsn(DB)}
    verify:
      schedule: 3s
      dsn: \${VERIFY_DSN}
    storage:
      local:
        - path: ${dir}/out/items.sql
`,
    );
    daemon = startDaemon(['--daemon', '-c', config, '--health-port', String(healthPort)], { env: { VERIFY_DSN: db.dsn() } });
    await daemon.waitForLog(/job "nightly" run 1 finished/, 30_000);
    await daemon.waitForLog(/restore drill verified/, 30_000);
    await rec.waitFor((d) => d.some((r) => r.path === hook && r.json.type === 'verify'), 10_000, 'a verify event');
    const event = rec.delivered(hook).find((r) => r.json.type === 'verify')!.json;
    expect(event.job).toBe('nightly');
    expect(event.result.ok).toBe(true);
    expect(event.result.restoreMs).toBeGreaterThan(0);
    expect(JSON.stringify(event)).not.toContain(db.password);
    const rec1 = JSON.parse(readFileSync(join(dir, 'out', 'items.sql.verify.json'), 'utf8'));
    expect(rec1.ok).toBe(true);
    let metrics = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
    expect(metric(metrics, 'onedump_verify_last_success_timestamp_seconds', 'nightly')).toBeGreaterThan(Date.now() / 1000 - 60);
    expect(metric(metrics, 'onedump_verify_failures_total', 'nightly') ?? 0).toBe(0);
    expect(metric(metrics, 'onedump_verify_duration_seconds', 'nightly')).toBeGreaterThan(0);

    // The stored backup loses its second half: the next drill fails, and says so everywhere.
    const file = join(dir, 'out', 'items.sql');
    const text = readFileSync(file);
    writeFileSync(file, text.subarray(0, Math.floor(text.length / 2)));
    await daemon.waitForLog(/restore drill FAILED/, 30_000);
    await rec.waitFor((d) => d.some((r) => r.path === hook && r.json.type === 'verify' && r.json.result.ok === false), 10_000, 'a failed verify event');
    metrics = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
    expect(metric(metrics, 'onedump_verify_failures_total', 'nightly')).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(readFileSync(`${file}.verify.json`, 'utf8')).ok).toBe(false);
    daemon.signal('SIGTERM');
    expect((await daemon.exited(60_000)).code).toBe(0);
    // No scratch database left behind, and nothing but the backup and its sidecars in the folder.
    const c = await db.connect();
    const [dbs] = (await c.query("SHOW DATABASES LIKE 'onedump_verify_%'")) as unknown as [unknown[]];
    await c.end();
    expect(dbs).toEqual([]);
    expect(readdirSync(join(dir, 'out')).sort()).toEqual(['items.sql', 'items.sql.manifest.json', 'items.sql.verify.json']);
  }, 120_000);

  it('a bad verify.schedule or verify.dsn is a config error (exit 2) before anything runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-drill-'));
    const config = join(dir, 'jobs.yml');
    writeFileSync(config, `jobs:\n  - name: x\n    schedule: 1h\n    dbdriver: mysql\n    dbdsn: ${db.dsn(DB)}\n    verify: { schedule: "every tuesday" }\n    storage: { local: [{ path: ${dir}/x.sql }] }\n`);
    daemon = startDaemon(['--daemon', '-c', config]);
    const r = await daemon.exited(30_000);
    expect(r.code).toBe(2);
    expect(daemon.stderr()).toMatch(/schedule "every tuesday" is neither a cron expression/);
    writeFileSync(config, `jobs:\n  - name: x\n    dbdriver: mysql\n    dbdsn: ${db.dsn(DB)}\n    verify: { dsn: "postgres://u@h/db" }\n    storage: { local: [{ path: ${dir}/x.sql }] }\n`);
    daemon = startDaemon(['--daemon', '-c', config]);
    expect((await daemon.exited(30_000)).code).toBe(2);
    expect(daemon.stderr()).toMatch(/jobs\[0\]\.verify\.dsn: is a postgres DSN but dbdriver is mysql/);
    expect(readdirSync(dir)).toEqual(['jobs.yml']);
  }, 90_000);
});
