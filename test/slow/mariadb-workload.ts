import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { startMariaDB } from '../../testutils/mariadb.js';

export interface Workload {
  /** The slow log, complete: the server has been stopped. */
  log: string;
  /** Removes the log's folder. */
  cleanup(): void;
}

const APP_PW = 'app-pw';
const REPORT_PW = 'report-pw';

/**
 * Starts a throwaway MariaDB that logs every statement to a slow log (long_query_time=0, with the
 * query-plan, explain and engine extras), runs a known workload, restarts the server half-way so
 * that a start-up banner lands in the middle of the file, and returns the log's path.
 */
export async function runMariaDBWorkload(): Promise<Workload> {
  const dir = mkdtempSync(join(tmpdir(), 'onedump-slow-mariadb-'));
  chmodSync(dir, 0o777); // the server may run as the mysql user
  const log = join(dir, 'slow.log');
  const db = await startMariaDB({
    args: [
      '--slow-query-log',
      `--slow-query-log-file=${log}`,
      '--long-query-time=0',
      '--log-slow-verbosity=query_plan,explain,engine',
      '--log-slow-admin-statements',
    ],
  });
  try {
    const root = await db.connect();
    await root.query('CREATE DATABASE shop');
    await root.query('CREATE DATABASE billing');
    await root.query('CREATE TABLE shop.orders (id INT PRIMARY KEY, name VARCHAR(50), code VARBINARY(8))');
    await root.query('CREATE TABLE billing.invoices (id INT PRIMARY KEY, total INT)');
    await root.query('INSERT INTO billing.invoices VALUES (1, 10), (2, 20), (3, 30)');
    await root.query(`CREATE USER 'app'@'127.0.0.1' IDENTIFIED BY '${APP_PW}'`);
    await root.query(`CREATE USER 'report'@'127.0.0.1' IDENTIFIED BY '${REPORT_PW}'`);
    await root.query(`GRANT ALL ON shop.* TO 'app'@'127.0.0.1'`);
    await root.query(`GRANT ALL ON billing.* TO 'report'@'127.0.0.1'`);
    await root.end();

    const connect = (user: string, password: string, database?: string) =>
      mysql.createConnection({ host: db.host, port: db.port, user, password, database });

    let app = await connect('app', APP_PW, 'shop');
    for (let i = 1; i <= 4; i++) {
      await app.query(`INSERT INTO orders (id, name, code) VALUES (${i}, 'it''s #${i}', 0x1F3A${i}C)`);
    }
    for (let i = 1; i <= 7; i++) await app.query(`SELECT * FROM orders WHERE id = ${i}`);
    for (let i = 1; i <= 5; i++) {
      await app.query(`SELECT o.id,\n       o.name\nFROM orders o\nWHERE o.name = 'x${i}'\n  AND o.id > ${i}`);
    }
    await app.end();

    let report = await connect('report', REPORT_PW);
    await report.query('USE billing');
    for (let i = 1; i <= 6; i++) await report.query(`SELECT COUNT(*) FROM invoices WHERE total > ${i * 5}`);
    await report.end();

    await db.restart();

    app = await connect('app', APP_PW, 'shop');
    for (let i = 8; i <= 10; i++) await app.query(`SELECT * FROM orders WHERE id = ${i}`);
    for (let i = 0; i < 2; i++) await app.query(`UPDATE orders SET name = 'n' WHERE id IN (1, 2, ${i + 3})`);
    await app.end();
    report = await connect('report', REPORT_PW);
    await report.query('USE billing');
    for (let i = 7; i <= 8; i++) await report.query(`SELECT COUNT(*) FROM invoices WHERE total > ${i * 5}`);
    await report.end();
    // A statement with no default database after others that had one.
    const root2 = await mysql.createConnection({ host: db.host, port: db.port, user: db.user, password: db.password });
    await root2.query('SELECT COUNT(*) FROM shop.orders');
    await root2.end();
  } finally {
    // The server writes an entry after sending the result: only a stopped server's log is complete.
    await db.stop();
  }
  return { log, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
