import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { startMariaDB } from '../../testutils/mariadb.js';
import type { Connection } from 'mysql2/promise';
import { sharedMariaDB, uniqueName } from '../../testutils/servers.js';
import { runJobToFile, tmp } from './helpers.js';

const m = sharedMariaDB();
let c: Connection;
const db = uniqueName('cli_src');
const dir = tmp();

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env: { ...process.env, ...env }, cwd: process.cwd() }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  c = await m.connect();
  await c.query(`CREATE DATABASE ${db}; CREATE TABLE ${db}.t (id INT PRIMARY KEY, s VARCHAR(20)); INSERT INTO ${db}.t VALUES (1, 'one'), (2, 'two\\'s');`);
});
afterAll(async () => {
  await c?.end();
});

describe('dump and restore from the command line', () => {
  it('a failing job does not affect the others: exit 3 (partly done), the good backup is complete, the bad one absent', async () => {
    const cfg = join(dir, 'jobs.yml');
    writeFileSync(
      cfg,
      `jobs:
  - name: good
    dbdriver: mysql
    dbdsn: ${m.dsn(db)}
    gzip: true
    storage: { local: [{ path: ${dir}/good.sql }] }
  - name: bad
    dbdriver: mysql
    dbdsn: "root:bad-cli-secret@tcp(${m.host}:${m.port})/${db}"
    storage: { local: [{ path: ${dir}/bad.sql }] }
`,
    );
    const r = await cli(['dump', '-c', cfg]);
    expect(r.code).toBe(3); // partial: good succeeded, bad failed (docs/schedulers.md)
    expect(existsSync(join(dir, 'good.sql.gz'))).toBe(true);
    expect(existsSync(join(dir, 'bad.sql'))).toBe(false);
    expect(readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual([]);
    expect(r.stdout + r.stderr).toMatch(/job \\?"bad\\?" failed: MySQL at 127\.0\.0\.1:\d+ refused user \\?"root\\?" \(access denied\); check the user and password in dbdsn\./);
    expect(r.stdout + r.stderr).not.toContain('bad-cli-secret');

    const target = uniqueName('cli_dst');
    // The DSN (with its password) from the environment: nothing on stderr, not even the warning about argv passwords.
    const rr = await cli(['restore', '--from', join(dir, 'good.sql.gz'), '--dsn', '-', '--target-db', target], { ONEDUMP_RESTORE_DSN: m.dsn() });
    expect(rr.stderr).toBe('');
    expect(rr.code).toBe(0);
    const [rows] = (await c.query(`SELECT s FROM ${target}.t ORDER BY id`)) as unknown as [Array<{ s: string }>];
    expect(rows.map((x) => x.s)).toEqual(['one', "two's"]);
  });

  it('an unknown native option or an unparsable DSN is a config error (exit 2) before anything runs', async () => {
    const cfg = join(dir, 'badopt.yml');
    writeFileSync(cfg, `jobs:\n  - name: j\n    dbdriver: mysql\n    dbdsn: ${m.dsn(db)}\n    options: [--no-such-thing]\n    storage: { local: [{ path: ${dir}/never.sql }] }\n`);
    const r = await cli(['dump', '-c', cfg]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/option "--no-such-thing" is not supported by the native mysql dumper/);
    const cfg2 = join(dir, 'baddsn.yml');
    writeFileSync(cfg2, `jobs:\n  - name: j\n    dbdriver: mysqldump\n    dbdsn: "root:pw@tcp(host:port:x)/db"\n    storage: { local: [{ path: ${dir}/never.sql }] }\n`);
    const r2 = await cli(['dump', '-c', cfg2]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/dbdsn/);
    expect(r2.stderr).not.toContain('pw@');
    expect(existsSync(join(dir, 'never.sql'))).toBe(false);
  });

  it('restore --binlogs --until: loads a native dump, then replays binlogs up to a time (point-in-time recovery)', async () => {
    // Its own server: replaying the shared server's binlogs would replay other tests' changes too.
    const inst = await startMariaDB();
    try {
      const own = await inst.connect();
      await own.query(`CREATE DATABASE pitr; CREATE TABLE pitr.t (id INT PRIMARY KEY, s VARCHAR(20)); INSERT INTO pitr.t VALUES (1, 'in dump');`);
      const file = join(dir, 'pitr.sql');
      const r = await runJobToFile({ dbdriver: 'mysql', dbdsn: inst.dsn('pitr') }, file);
      expect(r.error).toBeUndefined();
      await own.query(`INSERT INTO pitr.t VALUES (2, 'before until')`);
      await new Promise((res) => setTimeout(res, 1500));
      const until = new Date().toISOString().slice(0, 19).replace('T', ' ') + 'Z';
      await new Promise((res) => setTimeout(res, 1500));
      await own.query(`INSERT INTO pitr.t VALUES (3, 'after until'); DROP DATABASE pitr;`);
      const plan = await cli(['restore', '--from', file, '--dsn', inst.dsn('pitr'), '--binlogs', dirname(inst.binlogBase), '--until', until, '--dry-run']);
      expect(plan.stdout).toMatch(/then: {3}replay binlogs in .* from mysql-bin\.\d+:\d+ until/);
      const res = await cli(['restore', '--from', file, '--dsn', inst.dsn('pitr'), '--binlogs', dirname(inst.binlogBase), '--until', until]);
      expect(res.stderr.split('\n').filter((l) => /"level":"(error|warn)"/.test(l))).toEqual([]);
      expect(res.code).toBe(0);
      const [rows] = (await own.query(`SELECT id, s FROM pitr.t ORDER BY id`)) as unknown as [Array<{ id: number; s: string }>];
      expect(rows.map((x) => x.s)).toEqual(['in dump', 'before until']);
      await own.end();
    } finally {
      await inst.stop();
    }
  }, 120_000);

  it('--dry-run touches nothing', async () => {
    const d = await cli(['restore', '--from', join(dir, 'good.sql.gz'), '--dsn', m.dsn(), '--target-db', 'never_created_db', '--dry-run']);
    expect(d.code).toBe(0);
    expect(d.stdout).toMatch(/gzip, SQL/);
    const [rows] = (await c.query(`SHOW DATABASES LIKE 'never_created_db'`)) as unknown as [unknown[]];
    expect(rows).toHaveLength(0);
  });
});
