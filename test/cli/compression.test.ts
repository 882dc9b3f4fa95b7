import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Connection } from 'mysql2/promise';
import { runCli } from '../../testutils/cli.js';
import { sharedMariaDB, uniqueName } from '../../testutils/servers.js';
import { zstdAvailable } from '../../src/jobs/parallel-compress.js';
import { readDumpCoordinates } from '../../src/binlog/dump-coords.js';

const m = sharedMariaDB();
const db = uniqueName('compr');
const out = mkdtempSync(join(tmpdir(), 'onedump-compr-'));
const NEEDS = /zstd needs Node\.js 22\.15 or later \(or 23\.8\+\), and this is Node\.js v\d+\.\d+\.\d+/;
let c: Connection;
const oneOff = (args: string[]) => runCli(['dump', '--dsn', '-', ...args], { env: { ONEDUMP_DSN: m.dsn(db) } });
/** Exit 2, one line on stderr, matching `re`; nothing written under `dir`. */
function refused(r: { code: number | null; stderr: string }, re: RegExp, dir?: string): void {
  expect(r.code, r.stderr).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(re);
  if (dir) expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
}
const zstdFile = (text: string, name: string) => {
  const file = join(out, name);
  writeFileSync(file, spawnSync('zstd', ['-q', '-c'], { input: text }).stdout);
  return file;
};

beforeAll(async () => {
  c = await m.connect();
  await c.query(`CREATE DATABASE ${db}`);
  await c.query(`CREATE TABLE ${db}.t (id INT PRIMARY KEY, s VARCHAR(20))`);
  await c.query(`INSERT INTO ${db}.t VALUES (1, 'one'), (2, 'two''s')`);
});
afterAll(async () => {
  const [dbs] = (await c.query(`SHOW DATABASES LIKE '${db}%'`)) as unknown as [Array<Record<string, string>>];
  for (const d of dbs) await c.query(`DROP DATABASE IF EXISTS \`${Object.values(d)[0]}\``);
  await c.end();
});

describe('dump --compression (every Node)', () => {
  it('refuses a bad value, a contradiction and a level out of place, in one sentence each (exit 2)', async () => {
    const dir = join(out, 'never');
    refused(await oneOff(['--to', `${dir}/a.sql`, '--compression', 'lz4']), /^onedump: --compression must be one of zstd, gzip, none \(got "lz4"\)\.$/, dir);
    refused(await oneOff(['--to', `${dir}/a.sql`, '--gzip', '--compression', 'none']), /^onedump: --gzip contradicts --compression none; give one of them\.$/, dir);
    refused(await oneOff(['--to', `${dir}/a.sql`, '--compression-level', '5']), /^onedump: --compression-level needs --compression zstd or gzip\.$/, dir);
    refused(await oneOff(['--to', `${dir}/a.sql`, '--compression', 'gzip', '--compression-level', '10']), /^onedump: --compression-level: gzip levels go from 1 to 9 \(got 10\)\.$/, dir);
    const cfg = join(out, 'plain.yml');
    writeFileSync(cfg, `jobs:\n  - name: j\n    dbdriver: mysql\n    dbdsn: ${m.dsn(db)}\n    storage: { local: [{ path: ${dir}/j.sql }] }\n`);
    refused(await runCli(['dump', '-c', cfg, '--compression', 'gzip']), /^onedump: --compression goes with a one-off dump \(--dsn and --to\); set compression: in the config for its jobs\.$/, dir);
  });

  it('--compression gzip --compression-level 1 writes a .gz; --compression none a plain file', async () => {
    const gz = await oneOff(['--to', `${out}/g/app.sql`, '--compression', 'gzip', '--compression-level', '1']);
    expect(gz.code, gz.stderr).toBe(0);
    expect(gunzipSync(readFileSync(join(out, 'g', 'app.sql.gz'))).toString()).toContain("(2,'two\\'s')");
    const manifest = JSON.parse(readFileSync(join(out, 'g', 'app.sql.gz.manifest.json'), 'utf8')) as { compression: unknown };
    expect(manifest.compression).toEqual({ algorithm: 'gzip', level: 1 });
    const none = await oneOff(['--to', `${out}/n/app.sql`, '--compression', 'none']);
    expect(none.code, none.stderr).toBe(0);
    expect(readFileSync(join(out, 'n', 'app.sql'), 'utf8')).toContain("(2,'two\\'s')");
  });
});

describe.skipIf(!zstdAvailable())('zstd from the command line (a Node with zstd)', () => {
  it('--compression zstd writes app.sql.zst that zstd -dc reads and restore loads; --dry-run shows it; a level out of range is refused', async () => {
    const plan = await oneOff(['--to', `${out}/z/app.sql`, '--compression', 'zstd', '--dry-run']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(/, zstd\n {2}-> to\[0\]: .*\/z\/app\.sql\.zst\n/);
    const plan19 = await oneOff(['--to', `${out}/z/app.sql`, '--compression', 'zstd', '--compression-level', '19', '--dry-run']);
    expect(plan19.stdout).toMatch(/, zstd level 19\n/);
    const r = await oneOff(['--to', `${out}/z/app.sql`, '--compression', 'zstd', '--compression-level', '19']);
    expect(r.code, r.stderr).toBe(0);
    const file = join(out, 'z', 'app.sql.zst');
    expect(spawnSync('zstd', ['-dc', file]).stdout.toString()).toContain("(2,'two\\'s')");
    expect((JSON.parse(readFileSync(`${file}.manifest.json`, 'utf8')) as { compression: unknown }).compression).toEqual({ algorithm: 'zstd', level: 19 });
    const target = `${db}_z`;
    const rr = await runCli(['restore', '--from', file, '--dsn', '-', '--target-db', target], { env: { ONEDUMP_RESTORE_DSN: m.dsn() } });
    expect(rr.code, rr.stderr).toBe(0);
    const [rows] = (await c.query(`SELECT s FROM ${target}.t ORDER BY id`)) as unknown as [Array<{ s: string }>];
    expect(rows.map((x) => x.s)).toEqual(['one', "two's"]);
    refused(await oneOff(['--to', `${out}/never2/app.sql`, '--compression', 'zstd', '--compression-level', '20']), /^onedump: --compression-level: zstd levels go from 1 to 19 \(got 20\)\.$/, join(out, 'never2'));
  });

  it('a file made by the zstd tool restores, and binlog coordinates are read from a .zst dump', async () => {
    const file = zstdFile(`CREATE TABLE t2 (id INT);\nINSERT INTO t2 VALUES (7);\n`, 'tool.sql.zst');
    const target = `${db}_tool`;
    const rr = await runCli(['restore', '--from', file, '--dsn', '-', '--target-db', target], { env: { ONEDUMP_RESTORE_DSN: m.dsn() } });
    expect(rr.code, rr.stderr).toBe(0);
    const [rows] = (await c.query(`SELECT id FROM ${target}.t2`)) as unknown as [Array<{ id: number }>];
    expect(rows).toEqual([{ id: 7 }]);
    const coords = zstdFile(`-- CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000003', MASTER_LOG_POS=4242;\n`, 'coords.sql.zst');
    expect(await readDumpCoordinates(coords)).toMatchObject({ file: 'mysql-bin.000003', pos: 4242 });
  });
});

describe.skipIf(zstdAvailable())('zstd refused on a Node without it (Node 20)', () => {
  it('a config asking for zstd is refused before anything runs, naming the Node version needed (exit 2)', async () => {
    const dir = join(out, 'n20');
    const cfg = join(out, 'zstd.yml');
    writeFileSync(cfg, `jobs:\n  - name: j\n    dbdriver: mysql\n    dbdsn: ${m.user}:\${DB_PASS}@tcp(${m.host}:${m.port})/${db}\n    compression: zstd\n    storage: { local: [{ path: ${dir}/j.sql }] }\n`);
    for (const args of [['dump', '-c', cfg], ['config', 'validate', '-c', cfg], ['--daemon', '-c', cfg]]) {
      const r = await runCli(args, { env: { DB_PASS: m.password } });
      refused(r, new RegExp(`^onedump: .*zstd\\.yml: jobs\\[0\\]\\.compression: ${NEEDS.source} \\(use the single executable or the Docker image, or compression: gzip\\)\\.$`), dir);
    }
    refused(await oneOff(['--to', `${dir}/a.sql`, '--compression', 'zstd']), new RegExp(`^onedump: --compression zstd: ${NEEDS.source}; use the single executable`), dir);
  });

  it('a .zst cannot be restored or read for coordinates here, and the target is not touched (exit 2)', async () => {
    const file = zstdFile('CREATE TABLE t3 (id INT);\n', 'n20.sql.zst');
    const target = `${db}_n20`;
    const r = await runCli(['restore', '--from', file, '--dsn', '-', '--target-db', target], { env: { ONEDUMP_RESTORE_DSN: m.dsn() } });
    refused(r, new RegExp(`^onedump: ${file.replace(/[.]/g, '\\.')} is zstd-compressed, and decompressing it here is not possible: ${NEEDS.source}\\.$`));
    const [dbs] = (await c.query(`SHOW DATABASES LIKE '${target}'`)) as unknown as [unknown[]];
    expect(dbs).toEqual([]);
    await expect(readDumpCoordinates(file)).rejects.toThrow(NEEDS);
  });
});
