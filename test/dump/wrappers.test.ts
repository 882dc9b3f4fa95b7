import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import type pg from 'pg';
import { sharedMariaDB, sharedPostgres, uniqueName } from '../../testutils/servers.js';
import { startSshd, type SshdInstance } from '../../testutils/sshd.js';
import { requireBinary } from '../../testutils/binaries.js';
import { createMysqlCorpus } from './mysql-corpus.js';
import { createPgCorpus, pgSnapshot } from './pg-corpus.js';
import { mysqlSnapshot, runJobToFile, tmp } from './helpers.js';
import { restoreDump } from '../../src/dump/restore.js';
import { parseDsn } from '../../src/config/dsn.js';
import { silentLogger } from '../../src/util/logger.js';

// Credential files of this test file's dumps land here, so "none left behind" is checked exactly.
const credTmp = tmp('onedump-credtmp-');
process.env.TMPDIR = credTmp;

const m = sharedMariaDB();
const p = sharedPostgres();
let c: Connection;
let admin: pg.Client;
let sshd: SshdInstance;
const mdb = uniqueName('wrap_src');
const pdb = uniqueName('wrap_pg_src');
const dir = tmp();
const spyLog = join(dir, 'spy.log');

/** A driverpath that records its own command line and environment (and its parent's) and then runs the real tool. */
function spy(real: string): string {
  const path = join(dir, `spy-${real.split('/').pop()}`);
  writeFileSync(
    path,
    `#!/bin/sh\n{ echo "== $0"; tr '\\0' ' ' < /proc/$$/cmdline; echo; tr '\\0' '\\n' < /proc/$$/environ; echo "-- parent"; tr '\\0' ' ' < /proc/$PPID/cmdline; echo; } >> ${spyLog}\nexec ${real} "$@"\n`,
  );
  chmodSync(path, 0o755);
  return path;
}

const signal = () => new AbortController().signal;

beforeAll(async () => {
  c = await m.connect();
  await createMysqlCorpus(c, mdb, { bigRows: 10_000 });
  admin = await p.connect();
  await createPgCorpus(admin, p.connect, pdb);
  sshd = await startSshd();
}, 180_000);
afterAll(async () => {
  await c?.end();
  await admin?.end();
  await sshd?.stop();
});

function ssh() {
  return { sshhost: `${sshd.host}:${sshd.port}`, sshuser: sshd.user, sshkey: sshd.keyPath, sshknownhosts: sshd.knownHostsPath };
}

function expectMysqlMatch(a: Awaited<ReturnType<typeof mysqlSnapshot>>, b: Awaited<ReturnType<typeof mysqlSnapshot>>, exactFloat: boolean) {
  if (!exactFloat) {
    // mysqldump reads FLOAT through the text protocol, where MariaDB rounds it to 6 digits: a known mysqldump loss.
    expect(b.tables.t_num!.checksum).not.toBe(a.tables.t_num!.checksum);
    b = { ...b, tables: { ...b.tables, t_num: a.tables.t_num! } };
  }
  expect(b).toEqual(a);
}

describe('mysqldump wrapper', () => {
  it('round-trips the corpus locally (mariadb-dump via driverpath) with no password in its argv or environment', async () => {
    const file = join(dir, 'mysqldump.sql');
    const r = await runJobToFile({ dbdriver: 'mysqldump', dbdsn: m.dsn(mdb), driverpath: spy(requireBinary('mariadb-dump')) }, file);
    expect(r.error).toBeUndefined();
    const target = uniqueName('wrap_dst');
    await restoreDump({ from: file, dsn: parseDsn(m.dsn()), targetDb: target, log: silentLogger, signal: signal() });
    expectMysqlMatch(await mysqlSnapshot(c, mdb), await mysqlSnapshot(c, target), false);
    const log = readFileSync(spyLog, 'utf8');
    expect(log).toContain('--single-transaction');
    expect(log).toContain('--defaults-extra-file=');
    expect(log).not.toContain(m.password);
  });

  it('runs on the SSH host with the password on stdin only, and round-trips', async () => {
    const file = join(dir, 'mysqldump-ssh.sql.gz');
    const r = await runJobToFile({ dbdriver: 'mysqldump', dbdsn: m.dsn(mdb), driverpath: spy(requireBinary('mysqldump')), gzip: true, ...ssh() }, file.replace(/\.gz$/, ''));
    expect(r.error).toBeUndefined();
    const target = uniqueName('wrap_ssh_dst');
    await restoreDump({ from: file, dsn: parseDsn(m.dsn()), targetDb: target, log: silentLogger, signal: signal() });
    expectMysqlMatch(await mysqlSnapshot(c, mdb), await mysqlSnapshot(c, target), false);
    const log = readFileSync(spyLog, 'utf8');
    expect(log).toContain('onedump-cred.'); // the remote script's temp file, removed afterwards
    expect(log).not.toContain(m.password);
  });

  it('fails clearly: wrong password (permanent), missing binary, unreachable server (transient), leaving no file and no credentials', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ dbdsn: `root:bad-secret-pw@tcp(${m.host}:${m.port})/${mdb}` }, /^mysqldump exited with code 2: .*Access denied/],
      [{ dbdsn: m.dsn(mdb), driverpath: '/nonexistent/mysqldump' }, /mysqldump was not found at "\/nonexistent\/mysqldump"; install it or set driverpath/],
      [{ dbdsn: `root:x@tcp(127.0.0.1:1)/${mdb}`, retry: { attempts: 1 } }, /^mysqldump exited with code 2: .*Can't connect/],
      [{ dbdsn: m.dsn(mdb), driverpath: '/nonexistent/mysqldump', ...ssh() }, /was not found at "\/nonexistent\/mysqldump" on the SSH host/],
    ];
    for (const [fields, re] of cases) {
      const file = join(dir, `bad-${Math.random().toString(36).slice(2)}.sql`);
      const r = await runJobToFile({ dbdriver: 'mysqldump', ...fields }, file);
      expect(r.ok).toBe(false);
      expect(r.error).toMatch(re);
      expect(r.error).not.toContain('bad-secret-pw');
      expect(existsSync(file)).toBe(false);
    }
    expect(readdirSync(credTmp).filter((f) => f.startsWith('onedump-cred'))).toEqual([]);
    expect(readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });
});

describe('pg_dump wrapper', () => {
  const pdsn = (db: string) => p.dsn(db);

  it('round-trips the corpus (plain SQL through psql) with no password in argv or environment', async () => {
    const file = join(dir, 'pg.sql');
    const r = await runJobToFile({ dbdriver: 'postgresql', dbdsn: `${pdsn(pdb)}?sslmode=disable`, driverpath: spy(requireBinary('pg_dump')) }, file);
    expect(r.error).toBeUndefined();
    const target = uniqueName('wrap_pg_dst');
    await restoreDump({ from: file, dsn: parseDsn(pdsn('postgres')), targetDb: target, log: silentLogger, signal: signal() });
    const a = await p.connect(pdb);
    const b = await p.connect(target);
    try {
      const [sa, sb] = [await pgSnapshot(a), await pgSnapshot(b)];
      expect(Object.keys(sa.tables).length).toBeGreaterThan(4);
      expect(sb).toEqual(sa);
    } finally {
      await a.end();
      await b.end();
    }
    const log = readFileSync(spyLog, 'utf8');
    expect(log).toContain('PGSSLMODE=disable');
    expect(log).toContain('PGPASSFILE=');
    expect(log).not.toContain(p.password);
  });

  it('restores a custom-format dump taken over SSH exec with pg_restore', async () => {
    const file = join(dir, 'pg-ssh.dump');
    const r = await runJobToFile({ dbdriver: 'pgdump', dbdsn: pdsn(pdb), options: ['-Fc'], driverpath: spy(requireBinary('pg_dump')), ...ssh() }, file);
    expect(r.error).toBeUndefined();
    expect(readFileSync(file).subarray(0, 5).toString()).toBe('PGDMP');
    const target = uniqueName('wrap_pgc_dst');
    const res = await restoreDump({ from: file, dsn: parseDsn(pdsn('postgres')), targetDb: target, log: silentLogger, signal: signal() });
    expect(res.format).toBe('pg-custom');
    const a = await p.connect(pdb);
    const b = await p.connect(target);
    try {
      expect(await pgSnapshot(b)).toEqual(await pgSnapshot(a));
    } finally {
      await a.end();
      await b.end();
    }
    expect(readFileSync(spyLog, 'utf8')).not.toContain(p.password);
  });

  it('fails clearly on a wrong password and an unknown database', async () => {
    const bad = pdsn(pdb).replace(encodeURIComponent(p.password), 'wrong-pg-secret');
    const r1 = await runJobToFile({ dbdriver: 'pgdump', dbdsn: bad, retry: { attempts: 1 } }, join(dir, 'pgbad1.sql'));
    expect(r1.error).toMatch(/^pg_dump exited with code 1: .*password authentication failed/);
    expect(r1.error).not.toContain('wrong-pg-secret');
    const r2 = await runJobToFile({ dbdriver: 'pgdump', dbdsn: pdsn('no_such_pg_db') }, join(dir, 'pgbad2.sql'));
    expect(r2.error).toMatch(/database "no_such_pg_db" does not exist/);
    expect(existsSync(join(dir, 'pgbad1.sql')) || existsSync(join(dir, 'pgbad2.sql'))).toBe(false);
    expect(readdirSync(credTmp).filter((f) => f.startsWith('onedump-cred'))).toEqual([]);
  });
});

describe('native dumper through an SSH tunnel', () => {
  it('round-trips exactly', async () => {
    const file = join(dir, 'native-ssh.sql');
    const r = await runJobToFile({ dbdriver: 'mysql', dbdsn: m.dsn(mdb), options: ['--routines', '--events'], ...ssh() }, file);
    expect(r.error).toBeUndefined();
    const target = uniqueName('native_ssh_dst');
    await restoreDump({ from: file, dsn: parseDsn(m.dsn()), targetDb: target, log: silentLogger, signal: signal() });
    expectMysqlMatch(await mysqlSnapshot(c, mdb), await mysqlSnapshot(c, target), true);
  });

  it('fails with one sentence for a refused key, a key that does not parse and a changed host key', async () => {
    const badKey = join(dir, 'garbage.key');
    writeFileSync(badKey, 'not a key at all');
    const changed = join(dir, 'changed_known_hosts');
    const other = readFileSync(`${sshd.otherKeyPath}.pub`, 'utf8').split(/\s+/).slice(0, 2).join(' ');
    writeFileSync(changed, `[127.0.0.1]:${sshd.port} ${other}\n`);
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ sshkey: sshd.otherKeyPath }, /refused the key \(authentication failed\)/],
      [{ sshkey: badKey }, /^sshkey: the private key does not parse/],
      [{ sshknownhosts: changed }, /host key of 127\.0\.0\.1:\d+ has changed/],
    ];
    for (const [fields, re] of cases) {
      for (const driver of ['mysql', 'mysqldump']) {
        const file = join(dir, `sshbad-${Math.random().toString(36).slice(2)}.sql`);
        const r = await runJobToFile({ dbdriver: driver, dbdsn: m.dsn(mdb), ...ssh(), ...fields }, file);
        expect(r.ok).toBe(false);
        expect(r.error).toMatch(re);
        expect(existsSync(file)).toBe(false);
      }
    }
  });
});

