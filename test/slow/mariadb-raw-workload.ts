import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { startMariaDB } from '../../testutils/mariadb.js';
import { rng } from '../../testutils/rng.js';

export interface RawWorkload {
  /** The slow log of the statements pt-query-digest can split (no `;` at the end of a literal line followed by a `#` line). */
  log: string;
  /** The slow log of statements whose literals hold `;\n# …` lines, which pt-query-digest splits. */
  splitLog: string;
  /** Statements run by the account `raw`, per the fingerprint they must get, for each log. */
  expected: Map<string, number>;
  splitExpected: Map<string, number>;
  cleanup(): void;
}

export const RAW_USER = 'raw';
const RAW_PW = 'raw-pw';


/**
 * Issue 15: a throwaway MariaDB logs every statement (long_query_time=0, log_output=FILE) while the
 * account `raw` runs prepared statements with binary parameters (every byte 0x00-0xFF; logged
 * escaped by default and as raw bytes under NO_BACKSLASH_ESCAPES), text statements with raw control
 * characters, raw invalid UTF-8 (a latin1 connection), multi-line statements, header-like lines
 * inside literals and 100 KB+ literals. Returns the logs and the statements run.
 */
export async function runRawBytesWorkload(seed = 15): Promise<RawWorkload> {
  const r = rng(seed);
  const dir = mkdtempSync(join(tmpdir(), 'onedump-slow-raw-'));
  chmodSync(dir, 0o777); // the server may run as the mysql user
  const log = join(dir, 'slow.log');
  const splitLog = join(dir, 'split.log');
  const db = await startMariaDB({
    args: ['--slow-query-log', `--slow-query-log-file=${log}`, '--long-query-time=0', '--log-output=FILE'],
  });
  const expected = new Map<string, number>();
  const splitExpected = new Map<string, number>();
  let counts = expected;
  const ran = (fp: string) => counts.set(fp, (counts.get(fp) ?? 0) + 1);
  try {
    const root = await db.connect();
    await root.query('CREATE DATABASE raw');
    await root.query('CREATE TABLE raw.b (id INT AUTO_INCREMENT PRIMARY KEY, v LONGBLOB, s LONGTEXT)');
    await root.query(`CREATE USER '${RAW_USER}'@'127.0.0.1' IDENTIFIED BY '${RAW_PW}'`);
    await root.query(`GRANT ALL ON raw.* TO '${RAW_USER}'@'127.0.0.1'`);
    await root.query('SET GLOBAL max_allowed_packet = 16777216');

    const connect = (charset?: string) =>
      mysql.createConnection({ host: db.host, port: db.port, user: RAW_USER, password: RAW_PW, database: 'raw', charset });
    const everyByte = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const randomBytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));
    // Bytes that look like slow-log lines, behind a line break inside the literal.
    const lookalikes = [
      '\n# Time: 250101 10:00:00\n',
      '\n# User@Host: app[app] @  [10.0.0.1]\n# Thread_id: 9  Schema: x  QC_hit: No\n',
      '\n# Note: a markdown heading\n',
      '\n#\n',
      '\nuse other;\nSET timestamp=1;\n',
      '\r\n\f\v\r',
    ];

    const bin = await connect();
    for (let i = 0; i < 3; i++) {
      await bin.execute('INSERT INTO b (v) VALUES (?)', [everyByte]);
      ran('insert into b (v) values(?+)');
    }
    for (let i = 0; i < 20; i++) {
      await bin.execute('SELECT id FROM b WHERE v = ?', [Buffer.concat([randomBytes(1 + Math.floor(r() * 300)), everyByte])]);
      ran('select id from b where v = ?');
    }
    // Under NO_BACKSLASH_ESCAPES the server logs the parameters' bytes as they are.
    await bin.query("SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'");
    ran('set session sql_mode = ?');
    for (let i = 0; i < 3; i++) {
      await bin.execute('INSERT INTO b (v, s) VALUES (?, ?)', [everyByte, 'x']);
      ran('insert into b (v, s) values(?+)');
    }
    for (let i = 0; i < 30; i++) {
      // No backslash: raw, it would start an escape to every reader that does not know the sql_mode.
      const bytes = Buffer.concat([randomBytes(Math.floor(r() * 400)), Buffer.from(lookalikes[i % lookalikes.length]!), randomBytes(20)]);
      await bin.execute('SELECT id, s FROM b WHERE v = ?', [Buffer.from(bytes.map((b) => (b === 0x5c ? 0x2f : b)))]);
      ran('select id, s from b where v = ?');
    }
    for (let i = 0; i < 4; i++) {
      await bin.execute('SELECT id FROM b WHERE s = ? AND id > ?', ['y'.repeat(100_000 + Math.floor(r() * 100_000)), i]);
      ran('select id from b where s = ? and id > ?');
    }
    await bin.end();

    const text = await connect();
    for (let i = 0; i < 12; i++) {
      const controls = String.fromCharCode(...Array.from({ length: 32 }, (_, b) => b)).repeat(1 + (i % 3));
      await text.query(`SELECT '${controls}' AS ctl, '${lookalikes[i % lookalikes.length]}' AS lookalike`);
      ran('select ? as ctl, ? as lookalike');
    }
    for (let i = 0; i < 5; i++) {
      await text.query(`SELECT s\n  FROM b\n WHERE s = 'first\n# Not_a_header: ${i}\nlast'\n   AND id <> ${i}`);
      ran('select s from b where s = ? and id <> ?');
    }
    const big = Array.from({ length: 120_000 }, () => ' #;:\nabcXYZ\t'.charAt(Math.floor(r() * 13))).join('');
    await text.query(`SELECT LENGTH('${big}') AS big`);
    ran('select length(?) as big');
    await text.end();

    // A latin1 connection sends bytes 0x80-0xFF as they are: invalid UTF-8 in the log.
    const latin1 = await connect('LATIN1_SWEDISH_CI');
    for (let i = 0; i < 6; i++) {
      const high = String.fromCharCode(...Array.from({ length: 128 }, (_, b) => 0x80 + ((b + i) % 128)));
      await latin1.query(`SELECT '${high}\n\u00ff\u00fe' AS latin`);
      ran('select ? as latin');
    }
    await latin1.end();

    // Literals with a line that ends with `;` and then a `#` line: pt-query-digest splits there.
    await root.query(`SET GLOBAL slow_query_log_file = ${mysql.escape(splitLog)}`);
    counts = splitExpected;
    const split = await connect();
    for (let i = 0; i < 8; i++) {
      const tail = ['a;\n# Time: 2025-01-01T00:00:00.000000Z\nb', 'a;\n# Foo: bar;\nb', 'a;\n# User@Host: x[x] @ h []\nb', 'a;\n#\n'][
        i % 4
      ];
      await split.query(`SELECT '${tail}' AS tail`);
      ran('select ? as tail');
    }
    await split.end();
    await root.end();
  } finally {
    // The server writes an entry after sending the result: only a stopped server's log is complete.
    await db.stop();
  }
  return { log, splitLog, expected, splitExpected, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
