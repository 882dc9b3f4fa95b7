import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readDumpCoordinates } from '../../src/binlog/dump-coords.js';
import { FIXTURES } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'onedump-coords-'));
const write = (name: string, body: string | Buffer) => {
  const p = join(dir, name);
  writeFileSync(p, body);
  return p;
};
const HEAD = '-- MariaDB dump 10.19\n--\n-- Host: localhost    Database: app\n\n/*!40101 SET NAMES utf8mb4 */;\n';

describe('binlog coordinates from a dump', () => {
  it('reads the MySQL 8 wording from the gzip fixture', async () => {
    expect(await readDumpCoordinates(join(FIXTURES, 'init-db.sql.gz'))).toMatchObject({ file: 'mysql-bin.000003', pos: 1638, line: 24 });
  });

  it('reads the same fixture uncompressed (gzip is detected by magic bytes, not the name)', async () => {
    const plain = write('init-db.sql.gz', gunzipSync(readFileSync(join(FIXTURES, 'init-db.sql.gz'))));
    expect(await readDumpCoordinates(plain)).toMatchObject({ file: 'mysql-bin.000003', pos: 1638 });
  });

  it('reads the CHANGE MASTER TO wording (MariaDB, older MySQL) plain and gzip, with the GTID position', async () => {
    const text = `${HEAD}--\n-- Position to start replication or point-in-time recovery from\n--\n\n-- CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000042', MASTER_LOG_POS=12345;\n\n--\n-- GTID to start replication from\n--\n\n-- SET GLOBAL gtid_slave_pos='0-1-77';\n\nCREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n`;
    const plain = write('m.sql', text);
    const gz = write('m.bin', gzipSync(text));
    for (const p of [plain, gz]) expect(await readDumpCoordinates(p)).toEqual({ file: 'mysql-bin.000042', pos: 12345, gtid: '0-1-77', line: 10 });
  });

  it('reads the CHANGE REPLICATION SOURCE TO wording uncommented (--source-data=1)', async () => {
    const p = write('s.sql', `${HEAD}CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE='binlog.000007', SOURCE_LOG_POS=157;\n`);
    expect(await readDumpCoordinates(p)).toMatchObject({ file: 'binlog.000007', pos: 157 });
  });

  it('stops reading at the first table: a dump without coordinates is an error, not a full scan', async () => {
    const rows = 'INSERT INTO t VALUES ' + Array.from({ length: 1000 }, (_, i) => `(${i})`).join(',') + ';\n';
    const late = write('late.sql', `${HEAD}CREATE TABLE t (id int);\n${rows}-- CHANGE MASTER TO MASTER_LOG_FILE='x.000001', MASTER_LOG_POS=4;\n`);
    await expect(readDumpCoordinates(late)).rejects.toThrow(/^the dump file .*late\.sql records no binlog coordinates .*--master-data=2/);
  });

  it('missing, non-dump and corrupt gzip files are clear errors', async () => {
    await expect(readDumpCoordinates(join(dir, 'nope.sql'))).rejects.toThrow(`the dump file ${join(dir, 'nope.sql')} does not exist.`);
    await expect(readDumpCoordinates(write('junk.bin', Buffer.from([1, 2, 3, 4, 0, 0, 255])))).rejects.toThrow(/records no binlog coordinates/);
    const broken = Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from('definitely not deflate data')]);
    await expect(readDumpCoordinates(write('broken.sql.gz', broken))).rejects.toThrow(/^the dump file .*broken\.sql\.gz is not a readable gzip file/);
  });
});
