import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBinlog, BinlogFormatError, readFormatDescription } from '../../src/binlog/reader.js';
import { crc32, crc32Table } from '../../src/binlog/crc32.js';
import { startMariaDB, type MariaDBInstance } from '../../testutils/mariadb.js';
import { FIXTURES, mysqlbinlogListing, sql } from './helpers.js';

async function list(file: string, opts = {}) {
  const out = [];
  for await (const e of readBinlog(file, opts)) out.push(e);
  return out;
}

async function expectSameAsMysqlbinlog(file: string, chunkSize?: number) {
  const ours = await list(file, { chunkSize });
  const theirs = mysqlbinlogListing(file);
  expect(theirs.length).toBeGreaterThan(0);
  expect(ours.map((e) => [e.pos, e.logPos, e.timestamp, e.serverId])).toEqual(theirs.map((e) => [e.pos, e.logPos, e.timestamp, e.serverId]));
  return ours;
}

describe('binlog reader vs mysqlbinlog: MySQL 8.4 fixtures', () => {
  for (const name of ['mysql-bin.000001', 'mysql-bin.000002', 'mysql-bin.000003']) {
    it(`lists every event of ${name} with mysqlbinlog's positions and timestamps`, async () => {
      await expectSameAsMysqlbinlog(join(FIXTURES, name));
    });
  }

  it('names MySQL event types and reads the format description (checksums on, in-use flag on the copied file)', async () => {
    const events = await list(join(FIXTURES, 'mysql-bin.000003'), { withInfo: true });
    const types = new Set(events.map((e) => e.typeName));
    for (const t of ['Format_desc', 'Previous_gtids', 'Anonymous_Gtid', 'Query', 'Table_map', 'Xid']) expect(types).toContain(t);
    expect(events.some((e) => e.info === 'use `trendshift`; CREATE DATABASE IF NOT EXISTS `trendshift`')).toBe(true);
    // The password hash of CREATE USER is masked in the listing.
    const create = events.find((e) => e.pos === 989);
    expect(create?.info).toBe("CREATE USER IF NOT EXISTS 'dbases'@'%' IDENTIFIED WITH 'caching_sha2_password' AS '***'");
    const fd = await readFormatDescription(join(FIXTURES, 'mysql-bin.000003'));
    expect(fd).toMatchObject({ serverVersion: '8.4.5', checksum: true, inUse: true, binlogVersion: 4 });
    expect((await readFormatDescription(join(FIXTURES, 'mysql-bin.000001'))).inUse).toBe(false);
  });

  it('gives the same events when reads are tiny (events straddle reads)', async () => {
    const file = join(FIXTURES, 'mysql-bin.000003');
    expect(await list(file, { chunkSize: 64 })).toEqual(await list(file));
  });

  it('starts at a given event boundary and rejects a position inside an event', async () => {
    const file = join(FIXTURES, 'mysql-bin.000003');
    const from = await list(file, { start: 1638 });
    expect(from[0]?.pos).toBe(1638);
    expect(from.length).toBe((await list(file)).filter((e) => e.pos >= 1638).length);
    await expect(list(file, { start: 1639 })).rejects.toThrow(/mysql-bin\.000003: position 1639 is not an event boundary/);
    await expect(list(file, { start: 100 })).rejects.toThrow(/not an event boundary \(the Format_desc event at 4 ends at 127\)/);
  });
});

describe('binlog reader: truncated and corrupt files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'onedump-binlog-bad-'));
  const good = readFileSync(join(FIXTURES, 'mysql-bin.000003'));

  it('names the file and offset of a truncated event', async () => {
    const f = join(dir, 'trunc.000001');
    writeFileSync(f, good.subarray(0, 1100));
    const err = await list(f).catch((e) => e);
    expect(err).toBeInstanceOf(BinlogFormatError);
    expect(err.message).toBe('trunc.000001: the file is truncated or corrupt: the Query event needs 248 bytes but only 111 remain at offset 989.');
    expect(err.offset).toBe(989);
  });

  it('names the offset when a header is cut short', async () => {
    const f = join(dir, 'cut.000001');
    writeFileSync(f, good.subarray(0, 127 + 10));
    await expect(list(f)).rejects.toThrow('cut.000001: the file is truncated: 10 bytes remain where a 19-byte event header should be at offset 127.');
  });

  it('detects a flipped byte by its CRC32', async () => {
    const f = join(dir, 'flip.000001');
    const bad = Buffer.from(good);
    bad[400] = (bad[400] as number) ^ 0x40; // inside the Table_map event at 308
    writeFileSync(f, bad);
    await expect(list(f)).rejects.toThrow(/^flip\.000001: checksum mismatch in the Table_map event .* at offset 308\.$/);
    // Without verification the damage inside the body goes unnoticed, which is why it is on by default.
    expect((await list(f, { verifyChecksums: false })).length).toBe((await list(join(FIXTURES, 'mysql-bin.000003'))).length);
  });

  it('rejects files that are not binlogs', async () => {
    const f = join(dir, 'text.000001');
    writeFileSync(f, 'hello world, not a binlog');
    await expect(list(f)).rejects.toThrow('text.000001: not a binlog file (bad magic number) at offset 0.');
    const e = join(dir, 'empty.000001');
    writeFileSync(e, '');
    await expect(list(e)).rejects.toThrow(/empty\.000001: too short to be a binlog file/);
  });

  it('rejects an impossible event size', async () => {
    const f = join(dir, 'size.000001');
    const bad = Buffer.from(good);
    bad.writeUInt32LE(5, 127 + 9);
    writeFileSync(f, bad);
    await expect(list(f)).rejects.toThrow(/size\.000001: corrupt event header: an event of 5 bytes is impossible .* at offset 127\./);
  });

  it('the table CRC32 agrees with the native one', () => {
    const data = Buffer.from(good);
    expect(crc32Table(data)).toBe(crc32(data));
    expect(crc32Table(data.subarray(100), crc32Table(data.subarray(0, 100)))).toBe(crc32(data));
  });
});

describe('binlog reader vs mysqlbinlog: MariaDB binlogs', () => {
  let m: MariaDBInstance;
  let files: string[];
  beforeAll(async () => {
    m = await startMariaDB({ args: ['--max-binlog-size=4096'] });
    sql(
      m,
      `CREATE DATABASE r; USE r;
       CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(100), b LONGBLOB) ENGINE=InnoDB;
       CREATE TABLE m (id INT PRIMARY KEY) ENGINE=MyISAM;
       SET TIMESTAMP=1800000000;
       BEGIN; INSERT INTO t VALUES (1,'a',NULL),(2,'b',NULL); UPDATE t SET v='c' WHERE id=2; COMMIT;
       SET TIMESTAMP=1800000100;
       INSERT INTO m VALUES (1),(2),(3);
       INSERT INTO t VALUES (3, 'big', REPEAT('x', 3000000));
       DELETE FROM t WHERE id=1;
       FLUSH BINARY LOGS;
       SET TIMESTAMP=1800000200;
       INSERT INTO t SELECT seq+10, CONCAT('row', seq), NULL FROM seq_1_to_500;
       ALTER TABLE t ADD COLUMN w INT;`,
    );
    const dir = dirname(m.binlogBase);
    files = readdirSync(dir).filter((n) => /\.\d+$/.test(n)).sort().map((n) => join(dir, n));
  }, 120_000);
  afterAll(async () => {
    await m?.stop();
  });

  it('lists every event of every file with mysqlbinlog\'s positions and timestamps', async () => {
    expect(files.length).toBeGreaterThanOrEqual(3);
    const types = new Set<string>();
    for (const f of files) {
      const ev = await expectSameAsMysqlbinlog(f);
      ev.forEach((e) => types.add(e.typeName));
    }
    for (const t of ['Format_desc', 'Gtid_list', 'Binlog_checkpoint', 'Gtid', 'Annotate_rows', 'Table_map', 'Write_rows_v1', 'Update_rows_v1', 'Delete_rows_v1', 'Xid', 'Query', 'Rotate']) {
      expect(types).toContain(t);
    }
  });

  it('streams an event bigger than its read buffer and still verifies it', async () => {
    for (const f of files) {
      const big = (await list(f)).find((e) => e.size > 2_000_000);
      if (!big) continue;
      expect(await list(f, { chunkSize: 4096 })).toEqual(await list(f));
      // Corrupt a byte in the middle of the 3 MB row event: the streamed CRC catches it.
      const copy = join(mkdtempSync(join(tmpdir(), 'onedump-big-')), 'mysql-bin.000009');
      copyFileSync(f, copy);
      const buf = readFileSync(copy);
      buf[big.pos + 1_500_000] = (buf[big.pos + 1_500_000] as number) ^ 1;
      writeFileSync(copy, buf);
      await expect(list(copy)).rejects.toThrow(new RegExp(`checksum mismatch in the Write_rows_v1 event.* at offset ${big.pos}\\.`));
      return;
    }
    throw new Error('no event over 2 MB was produced');
  });
});
