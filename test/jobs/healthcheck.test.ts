import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../testutils/cli.js';
import { DUMP_COMPLETED, fakeDumpBinary } from '../../testutils/fake-dump.js';
import { startHttpRecorder, type HttpRecorder } from '../../testutils/http-recorder.js';

let rec: HttpRecorder;
beforeAll(async () => {
  rec = await startHttpRecorder();
});
afterAll(() => rec.close());

const PASSWORD = 'hc-Secret-77';

function config(dir: string, bin: string, healthcheck: string): string {
  const cfg = join(dir, 'jobs.yml');
  writeFileSync(
    cfg,
    `jobs:\n  - name: app\n    dbdriver: mysqldump\n    dbdsn: root:${PASSWORD}@tcp(127.0.0.1:3306)/app\n    driverpath: ${bin}\n    healthcheck: ${healthcheck}\n    storage: { local: [{ path: ${dir}/app.sql }] }\n`,
  );
  return cfg;
}

describe('healthcheck pings', () => {
  it('url: BASE pings BASE/start, then BASE on success', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-hc-'));
    const id = Math.random().toString(36).slice(2);
    const bin = fakeDumpBinary(`echo "CREATE TABLE t (id int);"\n${DUMP_COMPLETED}`, dir);
    const r = await runCli(['dump', '-c', config(dir, bin, `{ url: "${rec.url}/ping/${id}" }`)], { env: { ONEDUMP_LOCK_DIR: join(dir, 'l') } });
    expect(r.code).toBe(0);
    const paths = rec.delivered().filter((q) => q.path.startsWith(`/ping/${id}`));
    expect(paths.map((q) => q.path)).toEqual([`/ping/${id}/start`, `/ping/${id}`]);
    expect(paths[1]!.body).toMatch(/^onedump: job "app" succeeded \(\d+ bytes\)$/);
  });

  it('a failed run pings BASE/fail with the error sentence, scrubbed of the password; explicit URLs override', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-hc-'));
    const id = Math.random().toString(36).slice(2);
    const bin = fakeDumpBinary(`echo "mysqldump: Got error: 1045: Access denied for root:${PASSWORD}@db" >&2\nexit 2`, dir);
    const r = await runCli(['dump', '-c', config(dir, bin, `{ url: "${rec.url}/ping/${id}", start: "${rec.url}/run/${id}" }`)], { env: { ONEDUMP_LOCK_DIR: join(dir, 'l') } });
    expect(r.code).toBe(1);
    const got = rec.delivered().filter((q) => q.path.endsWith(id) || q.path.includes(`/${id}/`));
    expect(got.map((q) => q.path)).toEqual([`/run/${id}`, `/ping/${id}/fail`]);
    expect(got[1]!.body).toMatch(/^onedump: job "app" failed: .*exited with code 2: mysqldump: Got error: 1045: Access denied for root:\*\*\*@db$/);
    for (const q of got) expect(q.body).not.toContain(PASSWORD);
  });

  it('a ping that cannot be delivered is logged and counted (exit 1), the backup kept; an empty healthcheck is a config error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-hc-'));
    const bin = fakeDumpBinary(`echo "CREATE TABLE t (id int);"\n${DUMP_COMPLETED}`, dir);
    const r = await runCli(['dump', '-c', config(dir, bin, `{ success: "${rec.url}/gone" }`), '--json'], { env: { ONEDUMP_LOCK_DIR: join(dir, 'l') } });
    expect(r.code).toBe(0);
    // Delivered above; now the endpoint answers 404, which is not worth retrying.
    rec.failNext(10, 404, '/gone');
    const down = await runCli(['dump', '-c', config(dir, bin, `{ success: "${rec.url}/gone" }`), '--json'], { env: { ONEDUMP_LOCK_DIR: join(dir, 'l') } });
    expect(down.code).toBe(1);
    expect(JSON.parse(down.stdout)).toMatchObject({ ok: false, notificationFailures: 1, jobs: [{ ok: true }] });
    expect(down.stderr).toContain('the success healthcheck of job \\"app\\" answered HTTP 404');
    const empty = await runCli(['config', 'validate', config(dir, bin, '{}')]);
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('jobs[0].healthcheck: needs url, or at least one of start, success and failure');
  });
});
