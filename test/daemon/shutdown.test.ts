import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedMariaDB, uniqueName } from '../../testutils/servers.js';
import { startDaemon, type DaemonProcess } from '../../testutils/daemon-process.js';
import { startHttpRecorder, type HttpRecorder } from '../../testutils/http-recorder.js';
import { DUMP_COMPLETED, fakeDumpBinary } from '../../testutils/fake-dump.js';
import { requireBinary } from '../../testutils/binaries.js';
import { partialOf } from '../../testutils/partial.js';

const db = sharedMariaDB();
const DB = uniqueName('shutdown');
let daemon: DaemonProcess | undefined;
let rec: HttpRecorder;

beforeAll(async () => {
  const c = await db.connect();
  await c.query(`CREATE DATABASE ${DB}; CREATE TABLE ${DB}.t (id INT PRIMARY KEY); INSERT INTO ${DB}.t VALUES (1), (2), (3);`);
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

/**
 * A long dump: the real mysqldump writes the dump, then the process lingers (as a big table would) before exiting.
 * `exec` keeps one process, so aborting the job kills it.
 */
function setup(lingerSeconds: number) {
  const dir = mkdtempSync(join(tmpdir(), 'onedump-shutdown-'));
  const tmp = join(dir, 'tmp');
  mkdirSync(tmp);
  const bin = fakeDumpBinary(`${requireBinary('mysqldump')} "$@" || exit $?\nexec sleep ${lingerSeconds}`, dir);
  const out = join(dir, 'out');
  const slack = `/slack-${Math.random().toString(36).slice(2)}`;
  const config = join(dir, 'jobs.yml');
  writeFileSync(
    config,
    `notifier:\n  slack:\n    - incomingwebhook: ${rec.url}${slack}\njobs:\n  - name: slow\n    schedule: 1h\n    dbdriver: mysqldump\n    dbdsn: ${db.dsn(DB)}\n    driverpath: ${bin}\n    storage:\n      local:\n        - path: ${out}/slow.sql\n`,
  );
  // TMPDIR is private to this daemon, so its credential files can be checked without seeing other tests' ones.
  return { dir, tmp, out, config, slack, env: { TMPDIR: tmp } };
}

const credFiles = (tmp: string) => readdirSync(tmp).filter((f) => f.startsWith('onedump-cred-'));

describe('daemon shutdown', () => {
  it('SIGTERM during a long dump: the job finishes within the shutdown timeout, then exit 0', async () => {
    const s = setup(3);
    daemon = startDaemon(['--daemon', '-c', s.config, '--shutdown-timeout', '30s'], { env: s.env });
    await daemon.waitForLog(/job "slow" started/);
    // The dump is under way: credentials in place, output being written under the .partial name only.
    await waitUntil(() => partialOf(s.out, 'slow.sql') !== undefined);
    expect(credFiles(s.tmp)).toHaveLength(1);
    daemon.signal('SIGTERM');
    const { code } = await daemon.exited(30_000);
    expect(code).toBe(0);
    expect(daemon.logs.some((l) => /waiting up to 30.0s for 1 running job\(s\) to finish: slow/.test(l.msg))).toBe(true);
    expect(daemon.logs.some((l) => /job "slow" run 1 finished/.test(l.msg))).toBe(true);
    expect(readdirSync(s.out).sort()).toEqual(['slow.sql', 'slow.sql.manifest.json']);
    expect(readFileSync(join(s.out, 'slow.sql'), 'utf8')).toMatch(/INSERT INTO `t` VALUES[\s\S]*\(3\)[\s\S]*-- Dump completed/);
    expect(credFiles(s.tmp)).toEqual([]);
    expect(rec.delivered(s.slack).map((r) => r.json.text)).toEqual([expect.stringMatching(/^Backup job "slow" succeeded/)]);
  }, 60_000);

  it('SIGTERM during a long dump: after the shutdown timeout the job is aborted cleanly, then exit 0', async () => {
    const s = setup(120);
    daemon = startDaemon(['--daemon', '-c', s.config, '--shutdown-timeout', '1s'], { env: s.env });
    await daemon.waitForLog(/job "slow" started/);
    await waitUntil(() => partialOf(s.out, 'slow.sql') !== undefined);
    const t0 = Date.now();
    daemon.signal('SIGTERM');
    const { code } = await daemon.exited(30_000);
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(daemon.logs.some((l) => /aborted after the shutdown timeout: slow/.test(l.msg))).toBe(true);
    // Nothing under the final name, no partial file, no credential file.
    expect(readdirSync(s.out)).toEqual([]);
    expect(credFiles(s.tmp)).toEqual([]);
    const failure = rec.delivered(s.slack).map((r) => r.json.text);
    expect(failure).toEqual([
      expect.stringMatching(/^Backup job "slow" FAILED: the daemon is shutting down: the shutdown timeout \(1.0s\) passed/),
    ]);
  }, 60_000);

  it('a second signal aborts at once', async () => {
    const s = setup(120);
    daemon = startDaemon(['--daemon', '-c', s.config], { env: s.env });
    await daemon.waitForLog(/job "slow" started/);
    await waitUntil(() => partialOf(s.out, 'slow.sql') !== undefined);
    daemon.signal('SIGINT');
    await daemon.waitForLog(/received SIGINT: no new runs/);
    daemon.signal('SIGINT');
    expect((await daemon.exited(20_000)).code).toBe(0);
    expect(readdirSync(s.out)).toEqual([]);
    expect(credFiles(s.tmp)).toEqual([]);
  }, 60_000);

  it('maxjobs bounds concurrent runs; a run still queued for a slot does not start after SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-queue-'));
    const bin = fakeDumpBinary(`echo "-- q"\nsleep 2\n${DUMP_COMPLETED}`, dir);
    const job = (n: string) =>
      `  - name: ${n}\n    dbdriver: mysqldump\n    dbdsn: root:pw@tcp(127.0.0.1:1)/x\n    driverpath: ${bin}\n    storage: { local: [{ path: ${dir}/${n}.sql }] }\n`;
    const config = join(dir, 'jobs.yml');
    writeFileSync(config, `maxjobs: 1\nschedule: 1h\njobs:\n${job('one')}${job('two')}`);
    daemon = startDaemon(['--daemon', '-c', config], { env: { TMPDIR: dir } });
    const first = await daemon.waitForLog(/job "(one|two)" started/);
    const other = first.job === 'one' ? 'two' : 'one';
    daemon.signal('SIGTERM');
    expect((await daemon.exited(20_000)).code).toBe(0);
    expect(daemon.logs.filter((l) => / started$/.test(l.msg)).map((l) => l.job)).toEqual([first.job]);
    expect(daemon.logs.some((l) => l.msg.includes(`job "${other}" was waiting for a free slot (maxjobs) and will not start`))).toBe(true);
    expect(readdirSync(dir).filter((f) => f.endsWith('.sql'))).toEqual([`${first.job}.sql`]);
  }, 60_000);

  it('a job never overlaps itself: ticks during a run are skipped and logged', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-overlap-'));
    const bin = fakeDumpBinary(`echo "-- x"\nsleep 3\n${DUMP_COMPLETED}`, dir);
    const config = join(dir, 'jobs.yml');
    writeFileSync(
      config,
      `jobs:\n  - name: lap\n    schedule: "* * * * * *"\n    dbdriver: mysqldump\n    dbdsn: root:pw@tcp(127.0.0.1:1)/x\n    driverpath: ${bin}\n    storage: { local: [{ path: ${dir}/lap.sql }] }\n`,
    );
    daemon = startDaemon(['--daemon', '-c', config], { env: { TMPDIR: dir } });
    await daemon.waitForLog(/job "lap" started/);
    await daemon.waitForLog(/job "lap" is still running from its previous start: this run is skipped/, 10_000);
    await daemon.waitForLog(/job "lap" run 1 finished/, 10_000);
    expect(daemon.logs.filter((l) => /job "lap" started/.test(l.msg)).length).toBe(1);
    daemon.signal('SIGTERM');
    expect((await daemon.exited(20_000)).code).toBe(0);
  }, 60_000);
});

async function waitUntil(cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
