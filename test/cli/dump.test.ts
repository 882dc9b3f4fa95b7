import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { runCli } from '../../testutils/cli.js';
import { sharedMariaDB, sharedPostgres, uniqueName } from '../../testutils/servers.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function listAll(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
}

describe('onedump dump (mysqldump and pg_dump to local disk)', () => {
  const db = uniqueName('dumpcli');
  const m = sharedMariaDB();
  const p = sharedPostgres();

  beforeAll(async () => {
    const c = await m.connect();
    await c.query(`CREATE DATABASE ${db}`);
    await c.query(`CREATE TABLE ${db}.orders (id INT PRIMARY KEY, note VARCHAR(50))`);
    await c.query(`INSERT INTO ${db}.orders VALUES (1, 'first'), (2, 'it''s'), (3, NULL)`);
    await c.end();
    const pc = await p.connect();
    await pc.query(`CREATE DATABASE ${db}`);
    await pc.end();
    const pdb = await p.connect(db);
    await pdb.query(`CREATE TABLE items (id int primary key, name text); INSERT INTO items VALUES (1, 'pg-row')`);
    await pdb.end();
  });

  afterAll(async () => {
    const c = await m.connect();
    await c.query(`DROP DATABASE IF EXISTS ${db}`);
    await c.end();
  });

  it('writes two identical copies with the reported sha256, while an unreachable job fails alone (exit 3: partly done)', async () => {
    const out = mkdtempSync(join(tmpdir(), 'onedump-out-'));
    const cfg = join(out, 'jobs.yml');
    writeFileSync(
      cfg,
      `
jobs:
  - name: good
    dbdriver: mysqldump
    dbdsn: ${m.user}:\${DB_PASS}@tcp(${m.host}:${m.port})/${db}
    gzip: true
    unique: true
    storage:
      local:
        - path: ${out}/a/app.sql
        - path: ${out}/b/app.sql
  - name: unreachable
    dbdriver: mysqldump
    dbdsn: root:nope@tcp(127.0.0.1:1)/${db}
    retry: { attempts: 1 }
    storage:
      local:
        - path: ${out}/c/app.sql
`,
    );
    const r = await runCli(['dump', '-c', cfg, '--json'], { env: { DB_PASS: m.password } });
    expect(r.code).toBe(3); // partial: one job succeeded, one failed (docs/schedulers.md)
    const result = JSON.parse(r.stdout) as { ok: boolean; jobs: Array<{ job: string; ok: boolean; sha256?: string; bytes: number; fileName?: string; error?: string; destinations: Array<{ location: string; ok: boolean }> }> };
    expect(result.ok).toBe(false);
    const good = result.jobs.find((j) => j.job === 'good')!;
    const bad = result.jobs.find((j) => j.job === 'unreachable')!;
    expect(good.ok).toBe(true);
    expect(bad.ok).toBe(false);
    expect(bad.error).toMatch(/mysqldump exited with code 2: .*Can't connect/);
    const all = listAll(out).filter((f) => !f.endsWith('jobs.yml'));
    const files = all.filter((f) => !f.endsWith('.manifest.json'));
    // Each copy has its manifest beside it, which names it, its size and sha256, and holds no credentials.
    const manifests = all.filter((f) => f.endsWith('.manifest.json'));
    expect(manifests.map((f) => f.slice(out.length))).toEqual([
      expect.stringMatching(/^\/a\/\d{14}-app\.sql\.gz\.manifest\.json$/),
      expect.stringMatching(/^\/b\/\d{14}-app\.sql\.gz\.manifest\.json$/),
    ]);
    for (const f of manifests) {
      const text = readFileSync(f, 'utf8');
      expect(text).not.toContain(m.password);
      const doc = JSON.parse(text);
      expect(doc).toMatchObject({
        format: 'onedump-backup-manifest',
        version: 1,
        job: 'good',
        driver: 'mysqldump',
        source: { engine: 'mysql', host: m.host, port: m.port, server: expect.stringMatching(/MariaDB/) },
        databases: [db],
        compression: { algorithm: 'gzip', level: 6 },
        backup: { name: good.fileName, size: good.bytes, sha256: good.sha256 },
        complete: { exitStatus: true, endMarker: expect.stringContaining('Dump completed') },
      });
    }
    // Exactly the two good copies: no .partial, nothing for the failed job.
    expect(files.map((f) => f.slice(out.length))).toEqual([
      expect.stringMatching(/^\/a\/\d{14}-app\.sql\.gz$/),
      expect.stringMatching(/^\/b\/\d{14}-app\.sql\.gz$/),
    ]);
    const [a, b] = files.map((f) => readFileSync(f));
    expect(a!.equals(b!)).toBe(true);
    expect(sha256(a!)).toBe(good.sha256);
    const sql = gunzipSync(a!).toString();
    expect(sql).toMatch(/INSERT INTO `orders` VALUES\s*\(1,'first'\),\s*\(2,'it\\'s'\),\s*\(3,NULL\);/);
    // The password never reaches output.
    expect(r.stdout + r.stderr).not.toContain(m.password);
  });

  it('dumps PostgreSQL with pg_dump, the password only in a temporary pgpass file', async () => {
    const out = mkdtempSync(join(tmpdir(), 'onedump-out-'));
    const cfg = join(out, 'jobs.yml');
    writeFileSync(
      cfg,
      `jobs:\n  - name: pg\n    dbdriver: postgresql\n    dbdsn: postgres://${p.user}:\${PGPW}@${p.host}:${p.port}/${db}\n    storage:\n      local:\n        - path: ${out}/pg.sql\n`,
    );
    const r = await runCli(['-f', cfg], { env: { PGPW: p.password } });
    expect(r.stderr).not.toContain(p.password);
    expect(r.code).toBe(0);
    const sql = readFileSync(join(out, 'pg.sql'), 'utf8');
    expect(sql).toContain('CREATE TABLE public.items');
    expect(sql).toContain('pg-row');
    expect(r.stdout).toMatch(/pg\s+ok/);
  });

  it('--dry-run prints the plan and touches nothing', async () => {
    const out = mkdtempSync(join(tmpdir(), 'onedump-out-'));
    const cfg = join(out, 'jobs.yml');
    writeFileSync(cfg, `jobs:\n  - name: plan\n    dbdriver: mysqldump\n    dbdsn: root:secretpw@tcp(10.255.255.1:3306)/x\n    gzip: true\n    storage:\n      local:\n        - path: ${out}/never/x.sql\n          keep: 3\n`);
    const r = await runCli(['dump', '-c', cfg, '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('job "plan": mysqldump from mysql://root:***@10.255.255.1:3306/x, gzip');
    expect(r.stdout).toContain(`-> local[0]: ${out}/never/x.sql.gz (keep 3)`);
    expect(r.stdout).not.toContain('secretpw');
    expect(listAll(out)).toEqual([cfg]);
  });

  it('keep: N deletes only this job\'s oldest backups', async () => {
    const out = mkdtempSync(join(tmpdir(), 'onedump-out-'));
    for (const name of ['20200101000000-app.sql', '20200102000000-app.sql', '20200103000000-app.sql', 'other-app.sql', '20200101000000-app.sql.bak']) {
      writeFileSync(join(out, name), 'old');
    }
    const cfg = join(out, 'jobs.yml');
    writeFileSync(cfg, `jobs:\n  - name: k\n    dbdriver: mysqldump\n    dbdsn: ${m.user}:${m.password}@tcp(${m.host}:${m.port})/${db}\n    unique: true\n    storage:\n      local:\n        - path: ${out}/app.sql\n          keep: 2\n`);
    const r = await runCli(['dump', '-c', cfg]);
    expect(r.code).toBe(0);
    const names = readdirSync(out).sort();
    expect(names).toEqual([
      '20200101000000-app.sql.bak',
      '20200103000000-app.sql',
      expect.stringMatching(/^20\d{12}-app\.sql$/),
      expect.stringMatching(/^20\d{12}-app\.sql\.manifest\.json$/),
      'jobs.yml',
      'other-app.sql',
    ]);
    expect(names[2]).not.toMatch(/^2020/);
  });
});
