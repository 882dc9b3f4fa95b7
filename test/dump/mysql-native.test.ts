import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, existsSync, readdirSync } from 'node:fs';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import { sharedMariaDB, uniqueName } from '../../testutils/servers.js';
import { createMysqlCorpus } from './mysql-corpus.js';
import { mysqlSnapshot, runJobToFile, tmp, job } from './helpers.js';
import { restoreDump } from '../../src/dump/restore.js';
import { parseDsn } from '../../src/config/dsn.js';
import { silentLogger } from '../../src/util/logger.js';
import { createDumper } from '../../src/dump/registry.js';
import { rawRowStats } from '../../src/dump/mysql-native/raw-rows.js';
import { ConfigError } from '../../src/util/errors.js';
import { pino } from 'pino';
import { availableParallelism } from 'node:os';
import { autoConnections, serverIsLocal } from '../../src/dump/mysql-native/dumper.js';

const m = sharedMariaDB();
let c: Connection;
const db = uniqueName('native_src');
const dir = tmp();

async function restoreInto(file: string, target: string): Promise<void> {
  await restoreDump({ from: file, dsn: parseDsn(m.dsn()), targetDb: target, log: silentLogger, signal: new AbortController().signal });
}

beforeAll(async () => {
  c = await m.connect();
  await createMysqlCorpus(c, db);
}, 180_000);
afterAll(async () => {
  await c?.end();
});

describe('native mysql dumper', () => {
  it('formats rows straight from the protocol packets, also a row bigger than one 16 MB packet; restore loads it', async () => {
    await c.query('SET GLOBAL max_allowed_packet = 67108864');
    const big = uniqueName('native_bigrow');
    const c2 = await m.connect(); // the new max_allowed_packet applies to new sessions
    try {
      await c2.query(`CREATE DATABASE \`${big}\``);
      await c2.query(`CREATE TABLE \`${big}\`.t (id INT PRIMARY KEY, b LONGBLOB, s LONGTEXT)`);
      await c2.query(
        `INSERT INTO \`${big}\`.t VALUES (1, REPEAT(UNHEX('00FF275C'), 4200000), CONCAT(REPEAT('ab''c\\\\', 200000), 'end')), (2, NULL, ''), (3, '', NULL)`,
      );
    } finally {
      await c2.end();
    }
    const file = join(dir, 'bigrow.sql');
    const before = rawRowStats.packets;
    const r = await runJobToFile({ dbdriver: 'mysql', dbdsn: m.dsn(big) }, file);
    expect(r.error).toBeUndefined();
    // The packet path ran (not mysql2's Buffer per value): if a mysql2 upgrade bypasses it, this says so.
    expect(rawRowStats.packets - before).toBe(3);
    const target = uniqueName('native_bigrow_dst');
    await restoreInto(file, target);
    const sums = async (d: string) => (await c.query(`SELECT id, MD5(b) AS b, MD5(s) AS s, LENGTH(b) AS lb, LENGTH(s) AS ls FROM \`${d}\`.t ORDER BY id`))[0];
    const [a, b] = [await sums(big), await sums(target)];
    expect(b).toEqual(a);
    expect((a as Array<{ lb: number | null }>)[0]!.lb).toBe(16_800_000);
  }, 120_000);

  it('round-trips every type and object exactly (checksums, row hashes, views, triggers, routines, events)', async () => {
    const file = join(dir, 'native.sql');
    const r = await runJobToFile({ dbdriver: 'mysql', dbdsn: m.dsn(db), options: ['--routines', '--events'] }, file);
    expect(r.error).toBeUndefined();
    expect(r.ok).toBe(true);
    const text = readFileSync(file, 'latin1');
    expect(text).toMatch(/^-- CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin\.\d+', MASTER_LOG_POS=\d+;$/m);
    expect(text).toContain("/*!40103 SET TIME_ZONE='+00:00' */;");
    // Generated columns are left out of the column list, invisible ones are in.
    expect(text).toContain('INSERT INTO `t_gen` (`id`,`a`,`inv`,`created`) VALUES');
    // The big table is cut into several extended INSERTs of about 1 MB.
    const bigInserts = text.split('\n').filter((l) => l.startsWith('INSERT INTO `t_big`'));
    expect(bigInserts.length).toBeGreaterThan(1);
    for (const l of bigInserts) expect(l.length).toBeLessThan(1.2 * 1024 * 1024);
    // Views come after what they depend on.
    expect(text.indexOf('VIEW `z_base`')).toBeLessThan(text.indexOf('VIEW `a_on_view`'));
    const target = uniqueName('native_dst');
    await restoreInto(file, target);
    const [a, b] = [await mysqlSnapshot(c, db), await mysqlSnapshot(c, target)];
    expect(Object.keys(a.tables).length).toBeGreaterThan(10);
    expect(b).toEqual(a);
    expect(a.views).toHaveLength(2);
    expect(a.triggers).toHaveLength(2);
    expect(a.routines).toHaveLength(2);
    expect(a.events).toHaveLength(1);
    // TIMESTAMPs are restored to the same instant.
    const [[ts]] = (await c.query(`SELECT UNIX_TIMESTAMP(ts) AS u FROM \`${target}\`.t_time WHERE id = 3`)) as unknown as [[{ u: string }]];
    const [[ts0]] = (await c.query(`SELECT UNIX_TIMESTAMP(ts) AS u FROM \`${db}\`.t_time WHERE id = 3`)) as unknown as [[{ u: string }]];
    expect(String(ts.u)).toBe(String(ts0.u));
  });

  it('reads a table over several connections in key ranges of one snapshot: the same rows in the same order, commits during the dump unseen', async () => {
    const par = uniqueName('native_par');
    await c.query(`CREATE DATABASE \`${par}\``);
    // Sparse BIGINT keys (negative ones too), mixed row sizes, one row much bigger than a range's buffer; a table
    // keyed by a string (read by one connection) beside it.
    await c.query(`CREATE TABLE \`${par}\`.t (id BIGINT PRIMARY KEY, s VARCHAR(200), b LONGBLOB, n DECIMAL(20,6), f FLOAT) ENGINE=InnoDB`);
    await c.query(
      `INSERT INTO \`${par}\`.t SELECT CAST(seq AS SIGNED) * 7 - 30000, CONCAT('r', seq, ' it''s \\\\ ', REPEAT('x', seq % 50)), IF(seq % 5 = 0, NULL, UNHEX(MD5(seq))), seq / 7, seq / 3 FROM seq_1_to_20000`,
    );
    // The first row is much bigger than the output queue: the first range stalls with the output, the next ones wait.
    await c.query(`UPDATE \`${par}\`.t SET b = REPEAT(UNHEX('00FF275C'), 1500000) WHERE id = 7 - 30000`);
    await c.query(`CREATE TABLE \`${par}\`.k (name VARCHAR(20) PRIMARY KEY, v INT) ENGINE=InnoDB`);
    await c.query(`INSERT INTO \`${par}\`.k SELECT CONCAT('k', seq), seq FROM seq_1_to_3000`);
    const before = await mysqlSnapshot(c, par);

    const one = join(dir, 'par-1.sql');
    expect((await runJobToFile({ dbdriver: 'mysql', dbdsn: m.dsn(par), options: ['--threads=1'] }, one)).ok).toBe(true);
    // Three connections, 20000 rows in ranges of ~700; the output stalls at first so the ranges read ahead, and
    // meanwhile other sessions commit changes the dump must not contain.
    // Small statements too: many of them wait in a range read ahead, and all go out at once when it reaches the head.
    const j = job({ dbdriver: 'mysql', dbdsn: m.dsn(par), options: ['--threads=3', '--chunk-rows=700', '--net-buffer-length=4096'] });
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    const dumper = createDumper(j, parseDsn(j.dbdsn));
    const chunks: Buffer[] = [];
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const sink = new Writable({
      highWaterMark: 1 << 16,
      write(chunk: Buffer, _e, cb) {
        chunks.push(chunk);
        if (chunks.length === 1) void released.then(() => cb());
        else cb();
      },
    });
    const run = dumper.dump(sink, { job: j, log: silentLogger, signal: new AbortController().signal });
    await new Promise((r) => setTimeout(r, 500));
    await c.query(`DELETE FROM \`${par}\`.t WHERE id % 11 = 0`);
    await c.query(`UPDATE \`${par}\`.t SET s = 'changed' WHERE id % 2 = 0`);
    await c.query(`INSERT INTO \`${par}\`.t VALUES (999999, 'new', NULL, 1, 1)`);
    release();
    const info = await run;
    process.off('warning', onWarning);
    expect(info.details).toMatchObject({ rows: 23000 });
    expect(warnings).toEqual([]);
    const text = Buffer.concat(chunks).toString('latin1');
    const lines = text.split('\n');
    const oneText = readFileSync(one, 'latin1');
    // Each range is its own run of INSERTs: many more statements than one connection's ~1 MB ones.
    const inserts = (s: string, table = 't') => s.split('\n').filter((l) => l.startsWith(`INSERT INTO \`${table}\``));
    expect(inserts(text).length).toBeGreaterThanOrEqual(Math.ceil(20000 / 700));
    expect(inserts(oneText).length).toBeLessThan(10);
    // The same rows in the same order, and everything else identical but the timestamps.
    const rowsOf = (s: string, table = 't') => inserts(s, table).map((l) => l.slice(l.indexOf(' VALUES (') + 9, -2)).join('),(');
    expect(rowsOf(text)).toBe(rowsOf(oneText));
    expect(rowsOf(text, 'k')).toBe(rowsOf(oneText, 'k'));
    // (Other tests write to this server meanwhile: the binlog position moves between the two dumps.)
    expect(text).toMatch(/^-- CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin\.\d+', MASTER_LOG_POS=\d+;$/m);
    const rest = (ls: string[]) => ls.filter((l) => !l.startsWith('INSERT INTO ') && !/^-- (Dump (started|completed)|CHANGE MASTER)/.test(l));
    expect(rest(lines)).toEqual(rest(oneText.split('\n')));
    // And it restores to the table as it was when the dump started.
    const file = join(dir, 'par-3.sql');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, text, 'latin1');
    const target = uniqueName('native_par_dst');
    await restoreInto(file, target);
    expect(await mysqlSnapshot(c, target)).toEqual(before);
  }, 120_000);

  it('honours --no-data, --no-create-info, --skip-triggers, --skip-add-drop-table, --skip-add-locks and tables/excludetables', async () => {
    const f1 = join(dir, 'nodata.sql');
    expect((await runJobToFile({ dbdriver: 'mysql', dbdsn: m.dsn(db), options: ['--no-data', '--skip-triggers', '--skip-add-drop-table'] }, f1)).ok).toBe(true);
    const t1 = readFileSync(f1, 'utf8');
    expect(t1).toContain('CREATE TABLE `t_int`');
    expect(t1).not.toContain('INSERT INTO');
    expect(t1).not.toContain('TRIGGER');
    expect(t1).not.toContain('DROP TABLE');
    const f2 = join(dir, 'data.sql');
    expect((await runJobToFile({ dbdriver: 'mysql', dbdsn: m.dsn(db), options: ['--no-create-info', '--skip-add-locks'], tables: ['t_int', 't_num'] }, f2)).ok).toBe(true);
    const t2 = readFileSync(f2, 'utf8');
    expect(t2).not.toContain('CREATE TABLE');
    expect(t2).not.toContain('LOCK TABLES');
    expect(t2).toContain('INSERT INTO `t_int`');
    expect(t2).not.toContain('INSERT INTO `t_str`');
    const f3 = join(dir, 'excl.sql');
    expect((await runJobToFile({ dbdriver: 'mysql', dbdsn: m.dsn(db), excludetables: ['t_big'] }, f3)).ok).toBe(true);
    const t3 = readFileSync(f3, 'utf8');
    expect(t3).not.toContain('`t_big`');
    expect(t3).toContain('LOCK TABLES `t_int` WRITE;');
    expect(t3).not.toContain('PROCEDURE');
  });

  it('dumps several databases with --databases and restores them under their own names', async () => {
    const d1 = uniqueName('multi_a');
    const d2 = uniqueName('multi_b');
    await c.query(`CREATE DATABASE ${d1}; CREATE TABLE ${d1}.t (id INT PRIMARY KEY, s VARCHAR(10)); INSERT INTO ${d1}.t VALUES (1,'a');
      CREATE DATABASE ${d2}; CREATE TABLE ${d2}.u (id INT PRIMARY KEY); INSERT INTO ${d2}.u VALUES (5);`);
    const file = join(dir, 'multi.sql');
    expect((await runJobToFile({ dbdriver: 'mysql', dbdsn: m.dsn(), options: ['--databases', d1, d2] }, file)).ok).toBe(true);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain(`CREATE DATABASE /*!32312 IF NOT EXISTS*/ \`${d1}\``);
    expect(text).toContain(`USE \`${d2}\`;`);
    const before = [await mysqlSnapshot(c, d1), await mysqlSnapshot(c, d2)];
    await c.query(`DROP DATABASE ${d1}; DROP DATABASE ${d2}`);
    await restoreDump({ from: file, dsn: parseDsn(m.dsn()), log: silentLogger, signal: new AbortController().signal });
    expect([await mysqlSnapshot(c, d1), await mysqlSnapshot(c, d2)]).toEqual(before);
    // A multi-database dump cannot be redirected into one database.
    await expect(restoreInto(file, uniqueName('nope'))).rejects.toThrow(/single-database dump/);
  });

  it('--threads=auto (the default) reads a big InnoDB table over the connections autoConnections picks, a small database over one; --threads=2 splits plain and composite keys; rows and restore match one connection', async () => {
    const au = uniqueName('native_auto');
    await c.query(`CREATE DATABASE \`${au}\``);
    // ~20 MB of data: well over two 4 MB ranges (DATA_LENGTH is an estimate).
    await c.query(`CREATE TABLE \`${au}\`.t (id INT PRIMARY KEY, s VARCHAR(1100)) ENGINE=InnoDB`);
    await c.query(`INSERT INTO \`${au}\`.t SELECT seq, CONCAT(seq, REPEAT('a', 1000)) FROM seq_1_to_20000`);
    // A composite key whose first column is an integer splits on that column (few distinct values: ranges of it).
    await c.query(`CREATE TABLE \`${au}\`.c (g INT, name VARCHAR(20), s VARCHAR(1100), PRIMARY KEY (g, name)) ENGINE=InnoDB`);
    await c.query(`INSERT INTO \`${au}\`.c SELECT seq % 4000, CONCAT('n', seq), REPEAT('b', 1000) FROM seq_1_to_20000`);
    await c.query(`ANALYZE TABLE \`${au}\`.t, \`${au}\`.c`);
    const small = uniqueName('native_autosmall');
    await c.query(`CREATE DATABASE \`${small}\``);
    await c.query(`CREATE TABLE \`${small}\`.t (id INT PRIMARY KEY, s VARCHAR(20)) ENGINE=InnoDB`);
    await c.query(`INSERT INTO \`${small}\`.t SELECT seq, CONCAT('r', seq) FROM seq_1_to_100`);
    const dumpWith = async (name: string, options: string[]): Promise<{ text: string; logs: string }> => {
      const logs: string[] = [];
      const log = pino({ level: 'info' }, { write: (l: string) => void logs.push(l) });
      const j = job({ dbdriver: 'mysql', dbdsn: m.dsn(name), options });
      const chunks: Buffer[] = [];
      const sink = new Writable({ write: (chunk: Buffer, _e, cb) => (chunks.push(chunk), cb()) });
      await createDumper(j, parseDsn(j.dbdsn)).dump(sink, { job: j, log, signal: new AbortController().signal });
      return { text: Buffer.concat(chunks).toString('latin1'), logs: logs.join('') };
    };
    const inserts = (s: string, table = 't') => s.split('\n').filter((l) => l.startsWith(`INSERT INTO \`${table}\``));
    const rowsOf = (s: string, table = 't') => inserts(s, table).map((l) => l.slice(l.indexOf(' VALUES (') + 9, -2)).join('),(');
    // Ranges of 100 key values (rows of ~1 KB): each range is its own run of INSERTs, so a split table has many more
    // statements than one connection's ~1 MB ones.
    // --threads=auto picks 2 connections only where the server does not share a small machine's cores with the
    // dumper (autoConnections); the splitting itself is checked with --threads=2.
    const chosen = await dumpWith(au, ['--chunk-rows=100']);
    const n = autoConnections(availableParallelism(), true, true);
    expect(chosen.logs).toContain(`--threads=auto: ${n} connection${n > 1 ? 's' : ''}`);
    if (n === 1) expect(chosen.logs).toContain(`(the server runs on this machine's ${availableParallelism()} cores)`);
    const auto = await dumpWith(au, ['--threads=2', '--chunk-rows=100']);
    expect(rowsOf(chosen.text)).toBe(rowsOf(auto.text));
    const one = await dumpWith(au, ['--threads=1']);
    expect(one.logs).not.toContain('--threads=auto');
    expect(rowsOf(auto.text)).toBe(rowsOf(one.text));
    expect(inserts(auto.text).length).toBeGreaterThanOrEqual(30); // ~200 ranges
    expect(inserts(one.text).length).toBeLessThanOrEqual(22);
    expect(rowsOf(auto.text, 'c')).toBe(rowsOf(one.text, 'c'));
    expect(inserts(auto.text, 'c').length).toBeGreaterThanOrEqual(30); // 40 ranges of g
    expect(inserts(one.text, 'c').length).toBeLessThanOrEqual(22);
    const file = join(dir, 'auto.sql');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, auto.text, 'latin1');
    const target = uniqueName('native_autoback');
    await restoreInto(file, target);
    expect(await mysqlSnapshot(c, target)).toEqual(await mysqlSnapshot(c, au));
    const smallAuto = await dumpWith(small, ['--threads=auto']);
    expect(smallAuto.logs).toContain('--threads=auto: 1 connection');
    expect(rowsOf(smallAuto.text)).toBe(rowsOf((await dumpWith(small, ['--threads=1'])).text));
  }, 120_000);

  it('--threads=auto: two connections with a core to spare, four cores when the server is on this machine', () => {
    expect(autoConnections(1, false, true)).toBe(1);
    expect(autoConnections(2, false, true)).toBe(2);
    expect(autoConnections(2, true, true)).toBe(1);
    expect(autoConnections(3, true, true)).toBe(1);
    expect(autoConnections(4, true, true)).toBe(2);
    expect(autoConnections(16, false, false)).toBe(1);
    for (const local of ['root@tcp(127.0.0.1:3306)/d', 'root@tcp(localhost)/d', 'root@tcp([::1]:3306)/d', 'root@unix(/run/mysqld/mysqld.sock)/d', 'mysql://root@127.0.0.2/d']) {
      expect(serverIsLocal(parseDsn(local)), local).toBe(true);
    }
    for (const remote of ['root@tcp(db.example:3306)/d', 'root@tcp(10.0.0.5)/d', 'mysql://root@[2001:db8::1]:3306/d']) {
      expect(serverIsLocal(parseDsn(remote)), remote).toBe(false);
    }
  });

  it('rejects unknown options before anything runs (config error, exit 2)', () => {
    const j = job({ dbdriver: 'mysql', dbdsn: m.dsn(db), options: ['--where=id>1'] });
    let err: unknown;
    try {
      createDumper(j, parseDsn(j.dbdsn));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(2);
    expect((err as Error).message).toMatch(/option "--where=id>1" is not supported by the native mysql dumper/);
  });

  it('fails with one clear sentence for a wrong password, unknown database and unreachable host, leaving no file', async () => {
    const cases: Array<[string, RegExp]> = [
      [`${m.user}:wrong-password@tcp(${m.host}:${m.port})/${db}`, /refused user "root" \(access denied\); check the user and password in dbdsn/],
      [m.dsn('no_such_db_x'), /database "no_such_db_x" does not exist/],
      [`root:x@tcp(127.0.0.1:1)/${db}`, /cannot connect to MySQL at 127\.0\.0\.1:1 \(ECONNREFUSED\)/],
    ];
    for (const [dsn, re] of cases) {
      const file = join(dir, `bad-${Math.random().toString(36).slice(2)}.sql`);
      const r = await runJobToFile({ dbdriver: 'mysql', dbdsn: dsn, retry: { attempts: 1 } }, file);
      expect(r.ok).toBe(false);
      expect(r.error).toMatch(re);
      expect(r.error).not.toContain('wrong-password');
      expect(existsSync(file)).toBe(false);
    }
    expect(readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });

  it('stops promptly and cleans up when the job is aborted while the destination is stalled', async () => {
    const j = job({ dbdriver: 'mysql', dbdsn: m.dsn(db) });
    const dumper = createDumper(j, parseDsn(j.dbdsn));
    let received = 0;
    // A destination that takes the first chunks and then never asks for more.
    const stalled = new Writable({
      highWaterMark: 1 << 16,
      write(chunk: Buffer, _e, cb) {
        received += chunk.length;
        if (received < 1 << 20) cb();
      },
    });
    const ac = new AbortController();
    const started = Date.now();
    const run = dumper.dump(stalled, { job: j, log: silentLogger, signal: ac.signal });
    setTimeout(() => ac.abort(new Error('job timed out')), 500);
    await expect(run).rejects.toThrow(/job timed out/);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(received).toBeGreaterThan(0);
  });
});
