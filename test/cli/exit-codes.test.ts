import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_ENTRY, ROOT, runCli } from '../../testutils/cli.js';
import { DUMP_COMPLETED, fakeDumpBinary } from '../../testutils/fake-dump.js';
import { partialOf } from '../../testutils/partial.js';

// The exit codes of docs/schedulers.md, each from a real run of the CLI.
const ok = (dir: string) => fakeDumpBinary(`echo "CREATE TABLE t (id int);"\n${DUMP_COMPLETED}`, dir);
const broken = (dir: string) => fakeDumpBinary('echo "mysqldump: Got error: 1045: Access denied" >&2\nexit 2', dir);
const job = (name: string, bin: string, storage: string) =>
  `  - name: ${name}\n    dbdriver: mysqldump\n    dbdsn: root@tcp(127.0.0.1:3306)/app\n    driverpath: ${bin}\n    storage: ${storage}\n`;

function config(dir: string, jobs: string): string {
  const cfg = join(dir, 'jobs.yml');
  writeFileSync(cfg, `jobs:\n${jobs}`);
  return cfg;
}
const env = (dir: string) => ({ ONEDUMP_LOCK_DIR: join(dir, 'locks') });

describe('exit codes', () => {
  it('0 when every job and destination succeeded', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-exit-'));
    const r = await runCli(['dump', '-c', config(dir, job('a', ok(dir), `{ local: [{ path: ${dir}/a.sql }] }`))], { env: env(dir) });
    expect(r.code).toBe(0);
  });

  it('1 when the only job failed; 3 when another job of the run succeeded', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-exit-'));
    const one = await runCli(['dump', '-c', config(dir, job('bad', broken(dir), `{ local: [{ path: ${dir}/bad.sql }] }`))], { env: env(dir) });
    expect(one.code).toBe(1);
    const both = await runCli(
      ['dump', '-c', config(dir, job('good', ok(dir), `{ local: [{ path: ${dir}/good.sql }] }`) + job('bad', broken(dir), `{ local: [{ path: ${dir}/bad.sql }] }`))],
      { env: env(dir) },
    );
    expect(both.code).toBe(3);
    expect(readFileSync(join(dir, 'good.sql'), 'utf8')).toContain('CREATE TABLE t');
    expect(existsSync(join(dir, 'bad.sql'))).toBe(false);
  });

  it('3 when one destination of a job failed and another has the backup', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-exit-'));
    writeFileSync(join(dir, 'not-a-folder'), 'x');
    const r = await runCli(
      ['dump', '-c', config(dir, job('a', ok(dir), `{ local: [{ path: ${dir}/a.sql }, { path: ${dir}/not-a-folder/a.sql }] }`)), '--json'],
      { env: env(dir) },
    );
    expect(r.code).toBe(3);
    const out = JSON.parse(r.stdout);
    expect(out.jobs[0].destinations.map((d: { ok: boolean }) => d.ok)).toEqual([true, false]);
    expect(readFileSync(join(dir, 'a.sql'), 'utf8')).toContain('CREATE TABLE t');
  });

  it('2 for an invalid config, with nothing run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-exit-'));
    const r = await runCli(['dump', '-c', config(dir, job('a', ok(dir), `{ locl: [{ path: ${dir}/a.sql }] }`))], { env: env(dir) });
    expect(r.code).toBe(2);
    expect(readdirSync(dir).filter((f) => f.endsWith('.sql'))).toEqual([]);
  });

  it('130 when SIGINT aborts a run, with nothing under the final name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-exit-'));
    const slow = fakeDumpBinary(`echo "CREATE TABLE t (id int);"\nsleep 30\n${DUMP_COMPLETED}`, dir);
    const cfg = config(dir, job('a', slow, `{ local: [{ path: ${dir}/a.sql }] }`));
    const child = spawn(process.execPath, ['--import', 'tsx', CLI_ENTRY, 'dump', '-c', cfg], { cwd: ROOT, env: { ...process.env, ...env(dir) } });
    const code = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    const until = Date.now() + 30_000;
    while (!partialOf(dir, 'a.sql')) {
      if (Date.now() > until) throw new Error('the dump did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGINT');
    expect(await code).toBe(130);
    expect(existsSync(join(dir, 'a.sql'))).toBe(false);
    expect(readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual([]);
  }, 60_000);

  it('the --jitter wait is interrupted by SIGINT too (130), and a bad --jitter is bad usage (2)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-exit-'));
    const cfg = config(dir, job('a', ok(dir), `{ local: [{ path: ${dir}/a.sql }] }`));
    const bad = await runCli(['dump', '-c', cfg, '--jitter', 'later'], { env: env(dir) });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('onedump: --jitter "later" is not a duration such as 30s, 10m or 1h30m.\n');
    const child = spawn(process.execPath, ['--import', 'tsx', CLI_ENTRY, 'dump', '-c', cfg, '--jitter', '1h', '--log-format', 'json'], {
      cwd: ROOT,
      env: { ...process.env, ...env(dir) },
    });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    const code = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    const until = Date.now() + 30_000;
    while (!/before starting \(--jitter 1h\)/.test(err)) {
      if (Date.now() > until) throw new Error(`no jitter message: ${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGINT');
    expect(await code).toBe(130);
    expect(existsSync(join(dir, 'a.sql'))).toBe(false);
  }, 60_000);
});
