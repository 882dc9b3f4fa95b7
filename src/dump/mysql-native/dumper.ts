import type { Writable } from 'node:stream';
import type { Connection } from 'mysql2';
import type { Dumper, DumpInfo, JobContext } from '../types.js';
import type { ParsedDsn } from '../../config/dsn.js';
import { PermanentError } from '../../util/errors.js';
import { VERSION } from '../../version.js';
import { connectNative, mysqlError } from './connect.js';
import type { NativeOptions } from './options.js';
import { RAW_ROW, rawRowPackets } from './raw-rows.js';
import { SqlBuffer, quoteIdent, quoteString, KIND_NUMBER, KIND_QUOTED, KIND_HEX, KIND_BITS } from './sql-buffer.js';

/**
 * Rows go down the pipeline in pieces of about this size, cut anywhere (statements are still cut at
 * net_buffer_length): every piece is hashed and written on this thread, and while it is, nobody reads the server's
 * socket. A Unix socket holds ~200 KB; a 1 MB piece stalled the server for ~1 ms at a time, a quarter of a piece
 * does not. Measured in bench/RESULTS-dump.md.
 */
const PIECE = 256 * 1024;
/** Slab size for the SQL text (SqlBuffer): pieces are views of it, so a slab holds several. */
const SLAB = 2 << 20;

const KIND_CODES = { number: KIND_NUMBER, quoted: KIND_QUOTED, hex: KIND_HEX, bits: KIND_BITS } as const;

type Kind = 'number' | 'quoted' | 'hex' | 'bits';

const NUMBER_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'decimal', 'numeric', 'float', 'double', 'real', 'year']);
const BINARY_TYPES = new Set(['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob']);
const SPATIAL_TYPES = new Set(['geometry', 'point', 'linestring', 'polygon', 'multipoint', 'multilinestring', 'multipolygon', 'geometrycollection', 'geomcollection']);
const SYSTEM_DBS = new Set(['information_schema', 'performance_schema', 'sys', 'mysql']);

/** How a column's raw protocol bytes become a literal. Spatial values are the server's internal format (SRID + WKB) in hex, as mysqldump --hex-blob writes them. */
export function columnKind(dataType: string, charset: string | null): Kind {
  const t = dataType.toLowerCase();
  if (NUMBER_TYPES.has(t)) return 'number';
  if (t === 'bit') return 'bits';
  if (BINARY_TYPES.has(t) || SPATIAL_TYPES.has(t)) return 'hex';
  if (charset === 'binary' && t !== 'json') return 'hex';
  return 'quoted';
}

interface Column {
  name: string;
  kind: Kind;
  /** What to SELECT: the column, or an exact widening of it. */
  expr: string;
}

type Row = Record<string, unknown>;

/** Writes to `out`, waiting for 'drain' when it is full; gives up when `signal` aborts (a stalled destination). */
async function put(out: Writable, chunk: string | Buffer, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  if (out.write(chunk)) return;
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      out.off('drain', onDrain);
      out.off('error', onErr);
      out.off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onErr = (e: Error) => done(e);
    const onClose = () => done(new Error('the output stream closed'));
    const onAbort = () => done(signal!.reason instanceof Error ? signal!.reason : new Error('aborted'));
    out.once('drain', onDrain);
    out.once('error', onErr);
    out.once('close', onClose);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function q(conn: Connection, sql: string, values?: unknown[]): Promise<Row[]> {
  return new Promise((resolve, reject) => conn.query({ sql, values }, (err, rows) => (err ? reject(err) : resolve(rows as Row[]))));
}

function str(v: unknown): string {
  return Buffer.isBuffer(v) ? v.toString('utf8') : v === null || v === undefined ? '' : String(v);
}

/** Orders views so each comes after the views its definition mentions. */
export function orderViews(views: Array<{ name: string; ddl: string }>): Array<{ name: string; ddl: string }> {
  const byName = new Map(views.map((v) => [v.name, v]));
  const done = new Set<string>();
  const visiting = new Set<string>();
  const out: Array<{ name: string; ddl: string }> = [];
  const visit = (v: { name: string; ddl: string }) => {
    if (done.has(v.name) || visiting.has(v.name)) return;
    visiting.add(v.name);
    const body = v.ddl.slice(v.ddl.search(/\bAS\b/i));
    for (const other of views) if (other.name !== v.name && body.includes(quoteIdent(other.name))) visit(byName.get(other.name)!);
    visiting.delete(v.name);
    done.add(v.name);
    out.push(v);
  };
  for (const v of views) visit(v);
  return out;
}

export class NativeMysqlDumper implements Dumper {
  readonly name = 'native mysql';
  private signal?: AbortSignal;
  constructor(
    private readonly dsn: ParsedDsn,
    private readonly opts: NativeOptions,
  ) {}

  async dump(out: Writable, ctx: JobContext): Promise<DumpInfo> {
    const job = ctx.job;
    const nc = await connectNative(this.dsn, job, ctx.log, ctx.signal);
    const { conn } = nc;
    const onAbort = () => conn.destroy();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.run(conn, out, ctx);
    } catch (err) {
      if (ctx.signal.aborted) throw ctx.signal.reason ?? err;
      throw mysqlError(err, job.name, this.dsn, Boolean(nc.ssh));
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      await nc.close().catch(() => undefined);
    }
  }

  private async run(conn: Connection, out: Writable, ctx: JobContext): Promise<DumpInfo> {
    const o = this.opts;
    this.signal = ctx.signal;
    const [ver] = await q(conn, 'SELECT VERSION() AS v, @@log_bin AS log_bin, @@hostname AS host');
    const version = str(ver!.v);
    const mariadb = /mariadb/i.test(version);
    await q(conn, "SET SESSION time_zone = '+00:00'");
    await q(conn, "SET SESSION sql_mode = ''");
    await q(conn, 'SET SESSION net_write_timeout = 3600, net_read_timeout = 3600');
    await q(conn, 'SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');

    // One snapshot for every table, with binlog coordinates that belong to it.
    let binlog: DumpInfo['binlog'];
    const logBin = Number(ver!.log_bin) === 1;
    if (logBin && !mariadb) {
      // MySQL has no snapshot-bound binlog status: hold a global read lock just long enough to start the snapshot.
      let locked = false;
      try {
        await q(conn, 'FLUSH TABLES WITH READ LOCK');
        locked = true;
      } catch (err) {
        ctx.log.warn(`job "${ctx.job.name}": could not take FLUSH TABLES WITH READ LOCK (${(err as Error).message}); binlog coordinates may be slightly off the snapshot`);
      }
      await q(conn, 'START TRANSACTION WITH CONSISTENT SNAPSHOT');
      binlog = await this.binlogStatus(conn);
      if (locked) await q(conn, 'UNLOCK TABLES');
    } else {
      await q(conn, 'START TRANSACTION WITH CONSISTENT SNAPSHOT');
      if (logBin) {
        // MariaDB reports the coordinates of this transaction's snapshot itself, no lock needed.
        const rows = await q(conn, "SHOW STATUS LIKE 'binlog_snapshot_%'");
        const m = new Map(rows.map((r) => [str(r.Variable_name).toLowerCase(), str(r.Value)]));
        const file = m.get('binlog_snapshot_file');
        const pos = m.get('binlog_snapshot_position');
        if (file && pos) binlog = { file, position: Number(pos) };
      }
    }

    const databases = await this.databases(conn);
    const multi = o.allDatabases || o.databasesMode;
    await put(out, this.header(version, str(ver!.host), multi ? databases.join(', ') : (databases[0] ?? '')), this.signal);
    if (binlog) {
      await put(out, `--\n-- Position to start replication or point-in-time recovery from\n--\n\n-- CHANGE MASTER TO MASTER_LOG_FILE=${quoteString(binlog.file)}, MASTER_LOG_POS=${binlog.position};\n\n`, this.signal);
    }
    const stats = { tables: 0, rows: 0, views: 0, triggers: 0, routines: 0, events: 0 };
    for (const db of databases) {
      ctx.signal.throwIfAborted();
      await this.dumpDatabase(conn, out, db, multi, ctx, stats);
    }
    await put(out, this.footer(), this.signal);
    await q(conn, 'COMMIT');
    return { binlog, details: { server: version, databases, ...stats } };
  }

  private async binlogStatus(conn: Connection): Promise<DumpInfo['binlog']> {
    for (const sql of ['SHOW BINARY LOG STATUS', 'SHOW MASTER STATUS']) {
      try {
        const [r] = await q(conn, sql);
        if (r) return { file: str(r.File), position: Number(r.Position) };
        return undefined;
      } catch {
        /* the other spelling */
      }
    }
    return undefined;
  }

  private async databases(conn: Connection): Promise<string[]> {
    const o = this.opts;
    if (o.allDatabases) {
      const rows = await q(conn, 'SELECT SCHEMA_NAME AS n FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME');
      return rows.map((r) => str(r.n)).filter((n) => !SYSTEM_DBS.has(n.toLowerCase()));
    }
    const names = o.databases.length ? o.databases : this.dsn.database ? [this.dsn.database] : [];
    if (!names.length) {
      throw new PermanentError('the DSN names no database: add /dbname to dbdsn, or use options --databases a,b or --all-databases.');
    }
    for (const n of names) {
      const rows = await q(conn, 'SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [n]);
      if (!rows.length) throw Object.assign(new Error(`database "${n}" does not exist`), { errno: 1049 });
    }
    return names;
  }

  private header(version: string, host: string, dbs: string): string {
    return [
      `-- onedump ${VERSION} native MySQL dump`,
      '--',
      `-- Host: ${host.replace(/\n/g, ' ')}    Database: ${dbs.replace(/\n/g, ' ')}`,
      '-- ------------------------------------------------------',
      `-- Server version\t${version}`,
      `-- Dump started at ${new Date().toISOString()}`,
      '-- TIMESTAMP values are written in UTC (time_zone +00:00) and load unchanged on any server.',
      '',
      '/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;',
      '/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;',
      '/*!40101 SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION */;',
      '/*!40101 SET NAMES utf8mb4 */;',
      '/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;',
      "/*!40103 SET TIME_ZONE='+00:00' */;",
      '/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;',
      '/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;',
      "/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;",
      '/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;',
      '',
      '',
    ].join('\n');
  }

  private footer(): string {
    return [
      '/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;',
      '',
      '/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;',
      '/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;',
      '/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;',
      '/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;',
      '/*!40101 SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS */;',
      '/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;',
      '/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;',
      '',
      `-- Dump completed on ${new Date().toISOString()}`,
      '',
    ].join('\n');
  }

  private selected(name: string, ctx: JobContext): boolean {
    const { tables, excludetables } = ctx.job;
    if (tables?.length && !tables.includes(name)) return false;
    if (excludetables?.includes(name)) return false;
    return true;
  }

  private async dumpDatabase(conn: Connection, out: Writable, db: string, multi: boolean, ctx: JobContext, stats: Record<string, number>): Promise<void> {
    const o = this.opts;
    const D = quoteIdent(db);
    // SHOW CREATE VIEW leaves out the schema of objects in the default database, so views restore under any name.
    await q(conn, `USE ${D}`);
    if (multi) {
      await put(out, `--\n-- Current Database: ${D}\n--\n\n`, this.signal);
      if (o.createInfo) {
        const [c] = await q(conn, `SHOW CREATE DATABASE ${D}`);
        const ddl = str(c!['Create Database']).replace(/^CREATE DATABASE /i, 'CREATE DATABASE /*!32312 IF NOT EXISTS*/ ');
        await put(out, `${ddl};\n\n`, this.signal);
      }
      await put(out, `USE ${D};\n\n`, this.signal);
    }
    const objects = await q(conn, 'SELECT TABLE_NAME AS n, TABLE_TYPE AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME', [db]);
    const tables = objects.filter((r) => str(r.t) !== 'VIEW' && this.selected(str(r.n), ctx));
    const views = objects.filter((r) => str(r.t) === 'VIEW' && this.selected(str(r.n), ctx));

    for (const t of tables) {
      ctx.signal.throwIfAborted();
      const name = str(t.n);
      const T = quoteIdent(name);
      const isSequence = str(t.t) === 'SEQUENCE';
      if (o.createInfo) {
        const [c] = await q(conn, `SHOW CREATE TABLE ${T}`);
        const ddl = str(c!['Create Table'] ?? c!['Create Sequence'] ?? c!['Create View']);
        await put(
          out,
          `--\n-- Table structure for table ${T}\n--\n\n${o.addDropTable ? `DROP ${isSequence ? 'SEQUENCE' : 'TABLE'} IF EXISTS ${T};\n` : ''}` +
            `/*!40101 SET @saved_cs_client     = @@character_set_client */;\n/*!40101 SET character_set_client = utf8mb4 */;\n${ddl};\n/*!40101 SET character_set_client = @saved_cs_client */;\n\n`,
        );
      }
      stats.tables!++;
      if (!o.data) continue;
      if (isSequence) {
        const [s] = await q(conn, `SELECT next_not_cached_value AS v FROM ${T}`);
        await put(out, `SELECT SETVAL(${T}, ${str(s!.v)}, 0);\n\n`, this.signal);
        continue;
      }
      stats.rows! += await this.dumpRows(conn, out, db, name, ctx);
    }

    if (o.createInfo && views.length) {
      const defs: Array<{ name: string; ddl: string }> = [];
      for (const v of views) {
        const [c] = await q(conn, `SHOW CREATE VIEW ${quoteIdent(str(v.n))}`);
        defs.push({ name: str(v.n), ddl: str(c!['Create View']) });
      }
      for (const v of orderViews(defs)) {
        const V = quoteIdent(v.name);
        await put(out, `--\n-- View ${V}\n--\n\n${o.addDropTable ? `DROP VIEW IF EXISTS ${V};\n` : ''}/*!40101 SET @saved_cs_client = @@character_set_client */;\n/*!40101 SET character_set_client = utf8mb4 */;\n${v.ddl};\n/*!40101 SET character_set_client = @saved_cs_client */;\n\n`, this.signal);
        stats.views!++;
      }
    }

    if (o.triggers) {
      const trg = await q(conn, 'SELECT TRIGGER_NAME AS n, EVENT_OBJECT_TABLE AS t FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY EVENT_OBJECT_TABLE, ACTION_ORDER', [db]);
      for (const t of trg) {
        if (!this.selected(str(t.t), ctx)) continue;
        const N = quoteIdent(str(t.n));
        const [c] = await q(conn, `SHOW CREATE TRIGGER ${N}`);
        await put(out, this.compound(`Trigger ${N} on ${quoteIdent(str(t.t))}`, o.addDropTable ? `DROP TRIGGER IF EXISTS ${N}` : undefined, str(c!['SQL Original Statement']), str(c!.sql_mode)), this.signal);
        stats.triggers!++;
      }
    }

    if (o.routines) {
      const rs = await q(conn, "SELECT ROUTINE_NAME AS n, ROUTINE_TYPE AS t FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? AND ROUTINE_TYPE IN ('PROCEDURE','FUNCTION') ORDER BY ROUTINE_TYPE, ROUTINE_NAME", [db]);
      for (const r of rs) {
        const type = str(r.t).toUpperCase();
        const N = quoteIdent(str(r.n));
        const [c] = await q(conn, `SHOW CREATE ${type} ${N}`);
        const body = str(c![type === 'PROCEDURE' ? 'Create Procedure' : 'Create Function']);
        if (!body) throw new PermanentError(`the MySQL user "${this.dsn.user}" cannot read the body of ${type.toLowerCase()} ${db}.${str(r.n)}; grant SELECT on mysql.proc (MariaDB) or SHOW_ROUTINE, or drop --routines.`);
        await put(out, this.compound(`${type === 'PROCEDURE' ? 'Procedure' : 'Function'} ${N}`, `DROP ${type} IF EXISTS ${N}`, body, str(c!.sql_mode)), this.signal);
        stats.routines!++;
      }
    }

    if (o.events) {
      const es = await q(conn, 'SELECT EVENT_NAME AS n FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? ORDER BY EVENT_NAME', [db]);
      for (const e of es) {
        const N = quoteIdent(str(e.n));
        const [c] = await q(conn, `SHOW CREATE EVENT ${N}`);
        await put(out, this.compound(`Event ${N}`, `DROP EVENT IF EXISTS ${N}`, str(c!['Create Event']), str(c!.sql_mode), str(c!.time_zone)), this.signal);
        stats.events!++;
      }
    }
  }

  /** A stored-program statement with its own sql_mode (and time zone for events), between DELIMITER ;; lines. */
  private compound(title: string, drop: string | undefined, ddl: string, sqlMode: string, timeZone?: string): string {
    const lines = [`--\n-- ${title}\n--\n`];
    if (drop) lines.push(`${drop};`);
    lines.push('DELIMITER ;;');
    lines.push('/*!50003 SET @saved_sql_mode = @@sql_mode */ ;;');
    lines.push(`/*!50003 SET sql_mode = ${quoteString(sqlMode)} */ ;;`);
    if (timeZone) lines.push(`/*!50003 SET time_zone = ${quoteString(timeZone)} */ ;;`);
    lines.push(`${ddl} ;;`);
    if (timeZone) lines.push("/*!50003 SET time_zone = '+00:00' */ ;;");
    lines.push('/*!50003 SET sql_mode = @saved_sql_mode */ ;;');
    lines.push('DELIMITER ;');
    return lines.join('\n') + '\n\n';
  }

  private async columns(conn: Connection, db: string, table: string): Promise<Column[]> {
    const rows = await q(
      conn,
      'SELECT COLUMN_NAME AS n, DATA_TYPE AS t, CHARACTER_SET_NAME AS cs, EXTRA AS x FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
      [db, table],
    );
    // Generated columns cannot be inserted into; invisible ones are selected by name (SELECT * skips them).
    return rows
      .filter((r) => !/\b(VIRTUAL|STORED|PERSISTENT) GENERATED\b/i.test(str(r.x)))
      .map((r) => {
        const name = str(r.n);
        // MariaDB sends FLOAT as 6 significant digits (16777216 arrives as "16777200"); widened to DOUBLE the text
        // is the float's exact value, which converts back to the same float on insert.
        const expr = str(r.t).toLowerCase() === 'float' ? `(${quoteIdent(name)} + 0e0)` : quoteIdent(name);
        return { name, kind: columnKind(str(r.t), r.cs === null ? null : str(r.cs)), expr };
      });
  }

  /** Streams one table's rows as extended INSERTs cut near net_buffer_length; pauses the connection when `out` is full. */
  private async dumpRows(conn: Connection, out: Writable, db: string, table: string, ctx: JobContext): Promise<number> {
    const o = this.opts;
    const T = quoteIdent(table);
    const cols = await this.columns(conn, db, table);
    if (!cols.length) return 0;
    const colList = cols.map((c) => quoteIdent(c.name)).join(',');
    await put(out, `--\n-- Dumping data for table ${T}\n--\n\n${o.addLocks ? `LOCK TABLES ${T} WRITE;\n` : ''}/*!40000 ALTER TABLE ${T} DISABLE KEYS */;\n`, this.signal);
    const prefix = Buffer.from(`INSERT INTO ${T} (${colList}) VALUES `);
    const kindCodes = Uint8Array.from(cols.map((c) => KIND_CODES[c.kind]));
    const hasBits = kindCodes.includes(KIND_BITS);
    const limit = o.netBufferLength;
    let rows = 0;
    await new Promise<void>((resolve, reject) => {
      const sb = new SqlBuffer(Math.max(SLAB, limit * 2));
      let inStatement = false;
      /** Bytes of the statement being built that were already sent as pieces. */
      let statementBytes = 0;
      let failed = false;
      let paused = false;
      const queueLimit = Math.max(8 << 20, limit * 4);
      const fail = (err: Error) => {
        if (failed) return;
        failed = true;
        out.off('error', fail);
        ctx.signal.removeEventListener('abort', onAbort);
        reject(err);
      };
      out.once('error', fail);
      // A stalled destination never drains: the abort (job timeout, shutdown) must end the wait itself.
      const onAbort = () => fail(ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error('aborted'));
      if (ctx.signal.aborted) return onAbort();
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      const send = () => {
        // A piece is smaller than the pipeline's highWaterMark, but several are queued most of the time, so write()
        // reports "full" almost always; pausing then would make the server and the pipeline take turns. Keep a few
        // MB queued instead (bounded).
        if (!out.write(sb.take()) && out.writableLength >= queueLimit && !paused) {
          paused = true;
          conn.pause();
          out.once('drain', () => {
            paused = false;
            conn.resume();
          });
        }
      };
      const flush = () => {
        sb.ascii(';\n');
        inStatement = false;
        statementBytes = 0;
        send();
      };
      const query = conn.query({ sql: `SELECT ${cols.map((c) => c.expr).join(',')} FROM ${quoteIdent(db)}.${T}`, rowsAsArray: true, typeCast: false });
      const packets = rawRowPackets(query);
      query.on('error', (err: Error) => fail(err));
      query.on('result', (row: unknown) => {
        if (failed) return;
        if (!inStatement) sb.raw(prefix);
        if (row === RAW_ROW) {
          const p = packets.current();
          try {
            sb.packetRow(p.buffer, p.offset, p.end, kindCodes, hasBits, inStatement);
          } catch (err) {
            fail(new PermanentError(`the server sent a malformed row (${db}.${table}, row ${rows + 1}: ${(err as Error).message}); the dump was stopped.`));
            return;
          }
        } else sb.row(row as Array<Buffer | null>, kindCodes, inStatement);
        inStatement = true;
        rows++;
        if (statementBytes + sb.size >= limit) flush();
        else if (sb.size >= PIECE) {
          statementBytes += sb.size;
          send();
        }
      });
      query.on('end', () => {
        if (failed) return;
        if (inStatement) flush();
        out.off('error', fail);
        ctx.signal.removeEventListener('abort', onAbort);
        if (ctx.signal.aborted) reject(ctx.signal.reason);
        else resolve();
      });
    });
    await put(out, `/*!40000 ALTER TABLE ${T} ENABLE KEYS */;\n${o.addLocks ? 'UNLOCK TABLES;\n' : ''}\n`, this.signal);
    return rows;
  }
}
