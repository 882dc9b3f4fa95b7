import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import type { Connection } from 'mysql2/promise';
import type pg from 'pg';
import { sharedMariaDB, sharedPostgres, uniqueName } from '../../testutils/servers.js';
import { requireBinary } from '../../testutils/binaries.js';
import { fakeDumpBinary } from '../../testutils/fake-dump.js';
import { runJobToFile, tmp } from './helpers.js';
import { mysqldumpEndCheck, pgDumpEndCheck, type EndCheck } from '../../src/dump/completeness.js';

const m = sharedMariaDB();
const p = sharedPostgres();
let c: Connection;
let admin: pg.Client;
const mdb = uniqueName('complete_src');
const pdb = uniqueName('complete_pg');

beforeAll(async () => {
  c = await m.connect();
  await c.query(`CREATE DATABASE \`${mdb}\``);
  await c.query(`CREATE TABLE \`${mdb}\`.t (id INT PRIMARY KEY, v VARCHAR(200))`);
  // ~2 MB of rows, so that a cut at a random point lands inside the data.
  for (let b = 0; b < 10; b++) {
    const rows = Array.from({ length: 1000 }, (_, i) => `(${b * 1000 + i}, REPEAT('x', 200))`).join(',');
    await c.query(`INSERT INTO \`${mdb}\`.t VALUES ${rows}`);
  }
  admin = await p.connect();
  await admin.query(`CREATE DATABASE ${pdb}`);
  const pc = await p.connect(pdb);
  await pc.query(`CREATE TABLE t AS SELECT g AS id, repeat('y', 200) AS v FROM generate_series(1, 10000) g`);
  await pc.end();
}, 120_000);
afterAll(async () => {
  await c?.query(`DROP DATABASE IF EXISTS \`${mdb}\``);
  await c?.end();
  await admin?.query(`DROP DATABASE IF EXISTS ${pdb}`);
  await admin?.end();
});

function feed(check: EndCheck, text: string | Buffer, pieces: number): string | undefined {
  const b = Buffer.isBuffer(text) ? text : Buffer.from(text);
  // Pieces of varied sizes, as a pipe delivers them.
  let at = 0;
  for (let i = 0; i < pieces && at < b.length; i++) {
    const n = i === pieces - 1 ? b.length - at : Math.max(1, Math.floor(Math.random() * (b.length / pieces) * 2));
    check.observe(b.subarray(at, at + n));
    at += n;
  }
  if (at < b.length) check.observe(b.subarray(at));
  return check.verdict();
}

describe('end markers (unit)', () => {
  const mysqlOut = execFileSync(requireBinary('mysqldump'), [`-u${m.user}`, `-h${m.host}`, `-P${m.port}`, '--protocol=TCP', '--skip-dump-date', 'mysql', 'db'], {
    maxBuffer: 1 << 26,
    env: { ...process.env, MYSQL_PWD: m.password },
  });
  const pgEnv = { ...process.env, PGPASSWORD: p.password };

  it('accepts a whole mysqldump output in any chunking, and refuses every cut of it', () => {
    for (const pieces of [1, 2, 7, 100]) expect(feed(mysqldumpEndCheck([])!, mysqlOut, pieces)).toBeUndefined();
    // Every cut at 200 random places (and just before the last line) is refused.
    const cuts = [mysqlOut.length - 1, mysqlOut.length - 5, ...Array.from({ length: 200 }, () => Math.floor(Math.random() * mysqlOut.length))];
    for (const cut of cuts) {
      const truncated = mysqlOut.subarray(0, cut);
      if (/-- Dump completed\s*$/.test(truncated.toString('latin1'))) continue; // only the trailing newline cut off
      expect(feed(mysqldumpEndCheck([])!, truncated, 3), `cut at ${cut}`).toMatch(/does not end with mysqldump's '-- Dump completed' line/);
    }
  });

  it('knows which mysqldump options leave no marker, and checks --xml by its closing tag', () => {
    for (const opts of [['--compact'], ['--skip-comments'], ['--comments=0'], ['--comments=FALSE']]) expect(mysqldumpEndCheck(opts)).toBeUndefined();
    expect(mysqldumpEndCheck(['--comments'])).toBeDefined();
    const xml = mysqldumpEndCheck(['--xml'])!;
    expect(feed(xml, '<?xml version="1.0"?>\n<mysqldump>\n<database name="x">\n</database>\n</mysqldump>\n', 3)).toBeUndefined();
    expect(feed(mysqldumpEndCheck(['--xml'])!, '<?xml version="1.0"?>\n<mysqldump>\n<database name="x">\n', 2)).toMatch(/<\/mysqldump>/);
  });

  it("checks pg_dump's plain format (its \\restrict key included) and tar format; the custom format has no trailer", () => {
    const plain = execFileSync(requireBinary('pg_dump'), ['-h', p.host, '-p', String(p.port), '-U', p.user, 'postgres'], { maxBuffer: 1 << 26, env: pgEnv });
    expect(feed(pgDumpEndCheck([])!, plain, 5)).toBeUndefined();
    for (const cut of [plain.length - 3, plain.length - 60, Math.floor(plain.length / 2), 10]) {
      if (plain.subarray(cut).toString().trim() === '') continue; // only trailing blank lines cut off
      expect(feed(pgDumpEndCheck([])!, plain.subarray(0, cut), 2), `cut at ${cut}`).toMatch(/does not end with/);
    }
    const tar = execFileSync(requireBinary('pg_dump'), ['-h', p.host, '-p', String(p.port), '-U', p.user, '-Ft', 'postgres'], { maxBuffer: 1 << 26, env: pgEnv });
    expect(feed(pgDumpEndCheck(['-Ft'])!, tar, 4)).toBeUndefined();
    expect(feed(pgDumpEndCheck(['--format=tar'])!, tar.subarray(0, tar.length - 512), 4)).toMatch(/zero blocks/);
    expect(pgDumpEndCheck(['-Fc'])).toBeUndefined();
    expect(pgDumpEndCheck(['--format=custom'])).toBeUndefined();
  });
});

describe('a dump tool that stops halfway stores nothing', () => {
  const cases: Array<[string, string]> = [
    // The output cut off while the tool reports success (a wrapper that loses the exit status; a pipe cut short).
    ['cut off, exit 0', 'head -c 300000; exit 0'],
    // The tool killed halfway: the exit status already says so.
    ['killed', 'head -c 300000; kill -9 $$'],
  ];
  for (const [what, tail] of cases) {
    it(`mysqldump ${what}: the job fails and no file is left under the final name`, async () => {
      const dir = tmp();
      const bin = fakeDumpBinary(`${requireBinary('mysqldump')} "$@" | { ${tail}; }`, dir);
      const file = join(dir, 'out', 'cut.sql');
      const r = await runJobToFile({ dbdriver: 'mysqldump', dbdsn: m.dsn(mdb), driverpath: bin, retry: { attempts: 1 } }, file);
      expect(r.ok).toBe(false);
      expect(r.error).toMatch(what === 'killed' ? /exited with signal SIGKILL/ : /exited 0 but its output does not end with mysqldump's '-- Dump completed' line/);
      expect(existsSync(file)).toBe(false);
      expect(existsSync(join(dir, 'out')) ? readdirSync(join(dir, 'out')) : []).toEqual([]);
    });

    it(`pg_dump ${what}: the job fails and no file is left under the final name`, async () => {
      const dir = tmp();
      const bin = fakeDumpBinary(`${requireBinary('pg_dump')} "$@" | { ${tail}; }`, dir);
      const file = join(dir, 'out', 'cut.sql');
      const r = await runJobToFile({ dbdriver: 'pgdump', dbdsn: p.dsn(pdb), driverpath: bin, retry: { attempts: 1 } }, file);
      expect(r.ok).toBe(false);
      expect(r.error).toMatch(what === 'killed' ? /exited with signal SIGKILL/ : /exited 0 but its output does not end with/);
      expect(existsSync(file)).toBe(false);
      expect(existsSync(join(dir, 'out')) ? readdirSync(join(dir, 'out')) : []).toEqual([]);
    });
  }

  it('the whole dump passes and the result says which marker was found', async () => {
    const dir = tmp();
    const file = join(dir, 'whole.sql');
    const r = await runJobToFile({ dbdriver: 'mysqldump', dbdsn: m.dsn(mdb), driverpath: requireBinary('mysqldump') }, file);
    expect(r.ok).toBe(true);
    expect(existsSync(file)).toBe(true);
    const rp = await runJobToFile({ dbdriver: 'pgdump', dbdsn: p.dsn(pdb), driverpath: requireBinary('pg_dump') }, join(dir, 'whole-pg.sql'));
    expect(rp.ok).toBe(true);
  });
});
