import { randomBytes } from 'node:crypto';
import type { Connection } from 'mysql2/promise';

/** Every column type and object kind the native dumper must reproduce exactly. */
export async function createMysqlCorpus(c: Connection, db: string, opts: { bigRows?: number } = {}): Promise<void> {
  await c.query(`CREATE DATABASE \`${db}\` CHARACTER SET utf8mb4`);
  await c.query(`USE \`${db}\``);
  await c.query(`SET SESSION sql_mode = '', time_zone = '+10:00'`);
  const run = async (sql: string, values?: unknown[]) => c.query(sql, values);
  await run(`CREATE TABLE t_int (id INT PRIMARY KEY AUTO_INCREMENT, ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, su SMALLINT UNSIGNED, mi MEDIUMINT, i INT, iu INT UNSIGNED,
    bi BIGINT, bu BIGINT UNSIGNED, y YEAR, b1 BIT(1), b13 BIT(13), b64 BIT(64), bo BOOLEAN)`);
  await run(`INSERT INTO t_int VALUES
    (1, -128, 0, -32768, 0, -8388608, -2147483648, 0, -9223372036854775808, 0, 1901, b'0', b'0', b'0', 0),
    (2, 127, 255, 32767, 65535, 8388607, 2147483647, 4294967295, 9223372036854775807, 18446744073709551615, 2155, b'1', b'1010101010101', b'1111111111111111111111111111111111111111111111111111111111111111', 1),
    (3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, b'1', b'0000000000001', b'1000000000000000000000000000000000000000000000000000000000000001', NULL),
    (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`);
  await run(`CREATE TABLE t_num (id INT PRIMARY KEY, d DECIMAL(65,30), d2 DECIMAL(10,2) UNSIGNED, f FLOAT, db DOUBLE, f73 FLOAT(7,3))`);
  await run(`INSERT INTO t_num VALUES
    (1, 12345678901234567890123456789012345.123456789012345678901234567890, 99999999.99, 3.40282e38, 1.7976931348623157e308, 1234.567),
    (2, -12345678901234567890123456789012345.123456789012345678901234567890, 0.01, 1.17549e-38, 2.2250738585072014e-308, -9999.999),
    (3, 0.000000000000000000000000000001, 0, 0.1, 0.1, 0),
    (4, -0.000000000000000000000000000001, 0, -1.5, 5e-324, 0.001),
    (5, 0, 0, 16777217, 9007199254740993, 1.1),
    (6, NULL, NULL, NULL, NULL, NULL),
    (7, 1, 1, 3.1415927, 0.30000000000000004, 3.142)`);
  await run(`CREATE TABLE t_time (id INT PRIMARY KEY, d DATE, dt DATETIME, dt6 DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL, t TIME, t6 TIME(6), y YEAR)`);
  await run(`INSERT INTO t_time VALUES
    (1, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00.000000', '1970-01-01 10:00:01.000001', '-838:59:59', '-838:59:59.000000', 0),
    (2, '9999-12-31', '9999-12-31 23:59:59', '9999-12-31 23:59:59.999999', '2038-01-19 13:14:07.999999', '838:59:59', '838:59:58.999999', 2155),
    (3, '2024-02-29', '2024-02-29 12:34:56', '2024-02-29 12:34:56.123456', '2024-02-29 12:34:56.5', '-00:00:01', '-00:00:00.500000', 2024),
    (4, '2024-00-00', '2024-01-00 00:00:00', '1000-01-01 00:00:00.000001', '2024-10-06 02:30:00', '100:00:00', '25:00:00.000001', 1901),
    (5, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`);
  await run(`CREATE TABLE t_str (id INT PRIMARY KEY, c CHAR(10), vc VARCHAR(255), tx TEXT, mt MEDIUMTEXT, lat VARCHAR(50) CHARACTER SET latin1,
    gk VARCHAR(20) CHARACTER SET greek, e ENUM('a','b','it''s','é'), s SET('x','y','z'), ascii_col VARCHAR(20) CHARACTER SET ascii)`);
  const nasty = `quote ' dq " bs \\ nul \0 nl \n cr \r ctrlz \x1a tab \t pct % us _ end\\`;
  await run(`INSERT INTO t_str VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [1, "it's", nasty, nasty.repeat(3), 'x'.repeat(100_000), 'café ÿ ½', 'αβγ Ωμέγα', "it's", 'x,z', 'plain']);
  await run(`INSERT INTO t_str VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [2, '', '', '', '', '', '', 'é', '', '']);
  await run(`INSERT INTO t_str VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [3, '😀', '😀𝄞 漢字 \u{10FFFF} ', '\\\\\\', "''''", '\u00ff', 'ς', 'a', 'x,y,z', '\\']);
  await run(`INSERT INTO t_str VALUES (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`);
  await run(`CREATE TABLE t_bin (id INT PRIMARY KEY, b BINARY(4), vb VARBINARY(300), bl BLOB, lb LONGBLOB, cb CHAR(3) BINARY, cbin CHAR(5) CHARACTER SET binary)`);
  const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  await run(`INSERT INTO t_bin VALUES (?, ?, ?, ?, ?, ?, ?)`, [1, Buffer.from([0, 1, 0, 0]), all, all, randomBytes(2_500_000), 'a\0b', Buffer.from([0x27, 0x5c, 0, 0x0a, 0x1a])]);
  await run(`INSERT INTO t_bin VALUES (?, ?, ?, ?, ?, ?, ?)`, [2, Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0), '', Buffer.alloc(0)]);
  await run(`INSERT INTO t_bin VALUES (3, NULL, NULL, NULL, NULL, NULL, NULL)`);
  await run(`CREATE TABLE t_json (id INT PRIMARY KEY, j JSON)`);
  await run(`INSERT INTO t_json VALUES (1, '{"a": [1, 2.5, {"b": "c\\\\"d\\\\n"}], "u": "é😀", "n": null}'), (2, 'null'), (3, '[]'), (4, NULL), (5, '"it''s"')`);
  await run(`CREATE TABLE t_geo (id INT PRIMARY KEY, g GEOMETRY, p POINT, ls LINESTRING, poly POLYGON, mp MULTIPOINT, gc GEOMETRYCOLLECTION)`);
  await run(`INSERT INTO t_geo VALUES
    (1, ST_GeomFromText('POINT(1.5 -2.25)'), ST_GeomFromText('POINT(0 0)'), ST_GeomFromText('LINESTRING(0 0,1 1,2 0.5)'),
     ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0),(2 2,3 2,3 3,2 2))'), ST_GeomFromText('MULTIPOINT(1 1,2 2)'),
     ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1),LINESTRING(0 0,1 1))')),
    (2, ST_GeomFromText('POINT(151.2 -33.8)', 4326), NULL, NULL, NULL, NULL, NULL)`);
  await run(`CREATE TABLE t_gen (id INT PRIMARY KEY, a INT, b INT AS (a * 2) VIRTUAL, c VARCHAR(20) AS (CONCAT('v', a)) PERSISTENT, inv INT INVISIBLE DEFAULT 7, created DATETIME DEFAULT CURRENT_TIMESTAMP)`);
  await run(`INSERT INTO t_gen (id, a, inv, created) VALUES (1, 10, 1, '2020-01-01 00:00:00'), (2, NULL, NULL, '2021-01-01 00:00:00'), (3, -5, 42, NULL)`);
  await run("CREATE TABLE `weird ``name; x` (`col ``q` INT PRIMARY KEY, `select` VARCHAR(10))");
  await run("INSERT INTO `weird ``name; x` VALUES (1, 'from')");
  await run(`CREATE TABLE parent (id INT PRIMARY KEY)`);
  await run(`CREATE TABLE child (id INT PRIMARY KEY, parent_id INT, FOREIGN KEY (parent_id) REFERENCES parent(id) ON DELETE CASCADE)`);
  await run(`INSERT INTO parent VALUES (1), (2)`);
  await run(`INSERT INTO child VALUES (1, 1), (2, 2), (3, NULL)`);
  await run(`CREATE TABLE t_empty (id INT PRIMARY KEY)`);
  await run(`CREATE TABLE t_big (id INT PRIMARY KEY AUTO_INCREMENT, payload VARCHAR(200), n BIGINT)`);
  const bigRows = opts.bigRows ?? 30_000;
  for (let done = 0; done < bigRows; done += 5000) {
    await run(`INSERT INTO t_big (payload, n) SELECT CONCAT(REPEAT('row-', 20), seq), seq * 1000003 FROM seq_1_to_5000`);
  }
  await run(`CREATE TABLE t_log (id INT AUTO_INCREMENT PRIMARY KEY, msg VARCHAR(100))`);
  // Views whose alphabetical order is the reverse of their dependency order.
  await run(`CREATE VIEW z_base AS SELECT id, vc FROM t_str WHERE id < 4`);
  await run(`CREATE VIEW a_on_view AS SELECT z.id, t.bi FROM z_base z JOIN t_int t ON t.id = z.id`);
  await run(`CREATE TRIGGER trg_parent_ai AFTER INSERT ON parent FOR EACH ROW BEGIN
      INSERT INTO t_log (msg) VALUES (CONCAT('parent ', NEW.id, '; done'));
    END`);
  await run(`CREATE TRIGGER trg_str_bu BEFORE UPDATE ON t_str FOR EACH ROW SET NEW.c = UPPER(NEW.c)`);
  await run(`CREATE PROCEDURE p_count(IN lim INT, OUT n INT) BEGIN
      SELECT COUNT(*) INTO n FROM t_big WHERE id <= lim; -- a comment; with semicolons
    END`);
  await run(`CREATE FUNCTION f_double(x INT) RETURNS INT DETERMINISTIC RETURN x * 2`);
  await run(`CREATE EVENT ev_cleanup ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DISABLE DO DELETE FROM t_log WHERE id < 0`);
}
