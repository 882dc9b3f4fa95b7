import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireJobLock, LockHeldError, lockFileName } from '../../src/jobs/lock.js';
import { CLI_ENTRY, ROOT, runCli } from '../../testutils/cli.js';
import { DUMP_COMPLETED, fakeDumpBinary } from '../../testutils/fake-dump.js';

const fresh = (p: string) => mkdtempSync(join(tmpdir(), `onedump-lock-${p}-`));

/**
 * A config with one job whose stand-in dump takes `seconds`, or, given a file name, runs until that file exists (at most
 * 60 s): a test that must act while the dump runs does not then depend on how fast a loaded machine starts a process.
 */
function slowJob(dir: string, seconds: number | string, name = 'app'): string {
  const wait = typeof seconds === 'number' ? `sleep ${seconds}` : `i=0; while [ ! -e '${seconds}' ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done`;
  const bin = fakeDumpBinary(`${wait}\necho "-- ran by $PPID"\necho "CREATE TABLE t (id int);"\n${DUMP_COMPLETED}`, dir);
  const cfg = join(dir, 'jobs.yml');
  writeFileSync(
    cfg,
    `jobs:\n  - name: ${name}\n    dbdriver: mysqldump\n    dbdsn: root@tcp(127.0.0.1:3306)/app\n    driverpath: ${bin}\n    storage: { local: [{ path: ${dir}/out/app.sql }] }\n`,
  );
  return cfg;
}

function startCli(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI_ENTRY, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...env } });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const done = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, done, stderr: () => stderr };
}

async function waitFor(check: () => boolean, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('per-job run lock (in process)', () => {
  it('of twenty runs racing for one job exactly one gets the lock; the others are told who holds it', async () => {
    const dir = fresh('race');
    const settled = await Promise.allSettled(Array.from({ length: 20 }, () => acquireJobLock('app', ['/b/app.sql'], { dir })));
    const won = settled.filter((s) => s.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const s of settled.filter((s) => s.status === 'rejected')) {
      expect(s.reason).toBeInstanceOf(LockHeldError);
      expect(String(s.reason.message)).toMatch(new RegExp(`^another run of job "app" holds its lock \\(pid ${process.pid} on ${hostname()}, since \\d{4}-`));
    }
    await (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireJobLock>>>).value.release();
    expect(readdirSync(dir)).toEqual([]);
    // Free again: the next run gets it.
    const again = await acquireJobLock('app', ['/b/app.sql'], { dir });
    await again.release();
  });

  it('the same job name writing elsewhere is another lock; the order of destinations does not matter', async () => {
    const dir = fresh('names');
    expect(lockFileName('app', ['/a', '/b'])).toBe(lockFileName('app', ['/b', '/a']));
    const a = await acquireJobLock('app', ['/a'], { dir });
    const b = await acquireJobLock('app', ['/b'], { dir });
    await expect(acquireJobLock('app', ['/a'], { dir })).rejects.toBeInstanceOf(LockHeldError);
    await Promise.all([a.release(), b.release()]);
  });

  it('a lock of a dead process on this host is taken over at once, by exactly one of ten racing runs', async () => {
    const dir = fresh('dead');
    const dead = spawn('true');
    await new Promise((r) => dead.on('close', r));
    const path = join(dir, lockFileName('app', ['/x']));
    writeFileSync(path, JSON.stringify({ pid: dead.pid, host: hostname(), job: 'app', startedAt: '2026-01-01T00:00:00.000Z', token: 'old' }));
    const taken: unknown[] = [];
    const settled = await Promise.allSettled(
      Array.from({ length: 10 }, () => acquireJobLock('app', ['/x'], { dir, onTakeover: (o) => taken.push(o) })),
    );
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(1);
    expect(taken.length).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(readFileSync(path, 'utf8')).pid).toBe(process.pid);
    expect(readdirSync(dir)).toEqual([lockFileName('app', ['/x'])]); // nothing moved aside is left
  });

  it('another host\'s lock holds until it is older than the TTL; the holder keeps its own fresh', async () => {
    const dir = fresh('ttl');
    const path = join(dir, lockFileName('app', ['/x']));
    writeFileSync(path, JSON.stringify({ pid: 1, host: 'other-host', job: 'app', startedAt: '2026-01-01T00:00:00.000Z', token: 'remote' }));
    await expect(acquireJobLock('app', ['/x'], { dir, ttlMs: 60_000 })).rejects.toThrow(/pid 1 on other-host/);
    const old = new Date(Date.now() - 120_000);
    utimesSync(path, old, old);
    const mine = await acquireJobLock('app', ['/x'], { dir, ttlMs: 600 });
    // The holder touches the file: after several TTLs it is still not stale for another host.
    await new Promise((r) => setTimeout(r, 1500));
    expect(Date.now() - (await import('node:fs')).statSync(path).mtimeMs).toBeLessThan(600);
    await mine.release();
  });

  it('--lock-wait: a run waits for the holder and then runs', async () => {
    const dir = fresh('wait');
    const first = await acquireJobLock('app', ['/x'], { dir });
    setTimeout(() => void first.release(), 400);
    const t0 = Date.now();
    const second = await acquireJobLock('app', ['/x'], { dir, waitMs: 10_000, pollMs: 50 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    await second.release();
    const third = await acquireJobLock('app', ['/x'], { dir });
    await expect(acquireJobLock('app', ['/x'], { dir, waitMs: 300, pollMs: 50 })).rejects.toThrow(/; this run is skipped after waiting \d+ms$/);
    await third.release();
  });
});

describe('two processes running one job', () => {
  it('exactly one dumps; the other exits 11 naming the holder, and writes nothing', async () => {
    const dir = fresh('two');
    const cfg = slowJob(dir, join(dir, 'go'));
    const env = { ONEDUMP_LOCK_DIR: join(dir, 'locks') };
    const a = startCli(['dump', '-c', cfg], env);
    await waitFor(() => existsSync(join(dir, 'locks')) && readdirSync(join(dir, 'locks')).length === 1);
    const b = await runCli(['dump', '-c', cfg, '--json'], { env });
    expect(b.code).toBe(11);
    const json = JSON.parse(b.stdout);
    expect(json.ok).toBe(false);
    expect(json.jobs[0]).toMatchObject({ job: 'app', skipped: 'locked' });
    expect(json.jobs[0].error).toMatch(new RegExp(`^another run of job "app" holds its lock \\(pid ${a.child.pid} on ${hostname()}, since [-0-9T:.]+Z\\); this run is skipped$`));
    expect(b.stderr).toContain('this run is skipped');
    writeFileSync(join(dir, 'go'), '');
    expect(await a.done).toBe(0);
    expect(readFileSync(join(dir, 'out', 'app.sql'), 'utf8')).toMatch(/^-- ran by \d+\n/);
    expect(readdirSync(join(dir, 'locks'))).toEqual([]);
  }, 60_000);

  it('a lock left by kill -9 is taken over by the next run, which dumps', async () => {
    const dir = fresh('kill');
    const cfg = slowJob(dir, 30);
    const env = { ONEDUMP_LOCK_DIR: join(dir, 'locks') };
    const a = startCli(['dump', '-c', cfg], env);
    await waitFor(() => existsSync(join(dir, 'locks')) && readdirSync(join(dir, 'locks')).length === 1);
    a.child.kill('SIGKILL');
    await a.done;
    expect(readdirSync(join(dir, 'locks'))).toHaveLength(1); // left behind
    writeFileSync(cfg, readFileSync(cfg, 'utf8').replace(/driverpath: .*/, `driverpath: ${fakeDumpBinary(`echo "-- quick"\n${DUMP_COMPLETED}`, dir)}`));
    const b = await runCli(['dump', '-c', cfg], { env });
    expect(b.stderr).toMatch(new RegExp(`took over a stale lock left by pid ${a.child.pid} on ${hostname()}`));
    expect(b.code).toBe(0);
    expect(readFileSync(join(dir, 'out', 'app.sql'), 'utf8')).toBe('-- quick\n-- Dump completed\n');
  }, 60_000);

  it('--lock-wait lets the second run wait and then dump; --no-lock lets both run', async () => {
    const dir = fresh('wait-cli');
    const cfg = slowJob(dir, 2);
    const env = { ONEDUMP_LOCK_DIR: join(dir, 'locks') };
    const a = startCli(['dump', '-c', cfg], env);
    await waitFor(() => existsSync(join(dir, 'locks')) && readdirSync(join(dir, 'locks')).length === 1);
    const b = await runCli(['dump', '-c', cfg, '--lock-wait', '1m'], { env });
    expect(await a.done).toBe(0);
    expect(b.code).toBe(0);
    const bad = await runCli(['dump', '-c', cfg, '--lock-wait', 'soon'], { env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('onedump: --lock-wait "soon" is not a duration such as 30s, 10m or 1h30m.\n');
    // A lock held by a live process (this test's): skipped without --no-lock, run with it.
    writeFileSync(cfg, readFileSync(cfg, 'utf8').replace(/driverpath: .*/, `driverpath: ${fakeDumpBinary(`echo "-- quick"\n${DUMP_COMPLETED}`, dir)}`));
    const held = await acquireJobLock('app', [join(dir, 'out', 'app.sql')], { dir: join(dir, 'locks') });
    expect((await runCli(['dump', '-c', cfg], { env })).code).toBe(11);
    const d = await runCli(['dump', '-c', cfg, '--no-lock'], { env });
    expect(d.code).toBe(0);
    expect(readFileSync(join(dir, 'out', 'app.sql'), 'utf8')).toBe('-- quick\n-- Dump completed\n');
    await held.release();
  }, 60_000);
});
