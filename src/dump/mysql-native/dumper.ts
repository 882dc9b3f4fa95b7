import type { Writable } from 'node:stream';
import { availableParallelism } from 'node:os';
import type { Connection } from 'mysql2';
import type { Dumper, DumpInfo, JobContext } from '../types.js';
import type { ParsedDsn } from '../../config/dsn.js';
import { PermanentError } from '../../util/errors.js';
import { VERSION } from '../../version.js';
import { connectNative, mysqlError, type NativeConnection } from './connect.js';
import type { NativeOptions } from './options.js';
import { quoteIdent, quoteString, KIND_NUMBER, KIND_QUOTED, KIND_HEX, KIND_BITS, KIND_ENUM, KIND_CHARSET_HEX, INTRO_ROOM } from './sql-buffer.js';
import { CHUNK_DATA_BYTES, planRanges, streamRanges, streamTable, type KeyRange, type TableFormat } from './chunks.js';

const KIND_CODES = { number: KIND_NUMBER, quoted: KIND_QUOTED, hex: KIND_HEX, bits: KIND_BITS, enum: KIND_ENUM, 'charset-hex': KIND_CHARSET_HEX } as const;

type Kind = keyof typeof KIND_CODES;

const NUMBER_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'decimal', 'numeric', 'float', 'double', 'real', 'year']);
const BINARY_TYPES = new Set(['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob']);
const SPATIAL_TYPES = new Set(['geometry', 'point', 'linestring', 'polygon', 'multipoint', 'multilinestring', 'multipolygon', 'geometrycollection', 'geomcollection']);
const INT_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint']);
const SYSTEM_DBS = new Set(['information_schema', 'performance_schema', 'sys', 'mysql']);
const TEXT_TYPES = new Set(['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext']);
/**
 * Character sets in which every value a column can hold converts to utf8mb4 and back unchanged (all 256 bytes and
 * random strings checked on MariaDB 10.11; the Unicode sets reject malformed sequences on insert): such text comes
 * as utf8mb4 and is written quoted. Other sets hold bytes with no Unicode mapping (ascii and swe7 keep any byte,
 * cp1251 0x98, sjis/gbk user codes…), which that conversion turns into '?'; their columns are read as raw bytes.
 */
const UTF8_SAFE_CHARSETS = new Set(['utf8mb4', 'utf8mb3', 'utf8', 'latin1', 'ucs2', 'utf16', 'utf16le', 'utf32']);
/** ENUM/SET columns with more members than this are dumped as numbers without checking their names. */
const MAX_CHECKED_MEMBERS = 2000;

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
  /** `_charset ` for 'charset-hex' columns. */
  intro?: string;
}

/** The quoted member literals of an ENUM/SET COLUMN_TYPE, as the server writes them (`enum('a','it''s','b\\c')`). */
export function memberLiterals(columnType: string): string[] {
  const open = columnType.indexOf('(');
  return open < 0 ? [] : (columnType.slice(open).match(/'(?:[^'\\]|''|\\.)*'/gs) ?? []);
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

/**
 * Cores --threads=auto wants before a second connection when the server runs on this machine. Measured on a 2-core
 * machine with a local MariaDB (bench/RESULTS-dump.md, session 9): two connections were no faster than one (the
 * server's second thread takes the core the dumper formats rows on) and peaked ~45 MB higher.
 */
export const AUTO_LOCAL_CORES = 4;

/** Connections --threads=auto opens: 2 when this client has a core to spare (4 when the server shares them), else 1. */
export function autoConnections(cores: number, localServer: boolean, bigTable: boolean): 1 | 2 {
  if (!bigTable || cores < 2) return 1;
  return localServer && cores < AUTO_LOCAL_CORES ? 1 : 2;
}

/** The DSN reaches a server on this machine: a Unix socket or a loopback address (not through an SSH tunnel). */
export function serverIsLocal(dsn: ParsedDsn): boolean {
  if (dsn.socket) return true;
  const h = (dsn.host ?? 'localhost').toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\./.test(h);
}

export class NativeMysqlDumper implements Dumper {
  private tableRows: Array<{ database?: string; name: string; rows: number }> = [];
  readonly name = 'native mysql';
  private signal?: AbortSignal;
  /** The connection goes through an SSH tunnel (so a loopback host is the SSH host's, not this machine's). */
  private ssh = false;
  /** Connections beside the main one, each in a snapshot shown to be the main one's (empty: one connection). */
  private extras: NativeConnection[] = [];
  constructor(
    private readonly dsn: ParsedDsn,
    private readonly opts: NativeOptions,
  ) {}

  async dump(out: Writable, ctx: JobContext): Promise<DumpInfo> {
    this.tableRows = [];
    const job = ctx.job;
    const nc = await connectNative(this.dsn, job, ctx.log, ctx.signal);
    const { conn } = nc;
    this.ssh = Boolean(nc.ssh);
    const onAbort = () => {
      conn.destroy();
      for (const x of this.extras) x.conn.destroy();
    };
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.run(conn, out, ctx);
    } catch (err) {
      if (ctx.signal.aborted) throw ctx.signal.reason ?? err;
      throw mysqlError(err, job.name, this.dsn, Boolean(nc.ssh));
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      const all = [nc, ...this.extras];
      this.extras = [];
      await Promise.all(all.map((x) => x.close().catch(() => undefined)));
    }
  }

  private async setupSession(conn: Connection): Promise<void> {
    await q(conn, "SET SESSION time_zone = '+00:00'");
    await q(conn, "SET SESSION sql_mode = ''");
    await q(conn, 'SET SESSION net_write_timeout = 3600, net_read_timeout = 3600');
    await q(conn, 'SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
  }

  /** Opens `n` more connections for reading big tables in ranges; none (and a warning) if the server refuses them. */
  private async openExtras(n: number, ctx: JobContext): Promise<NativeConnection[]> {
    const opened: NativeConnection[] = [];
    try {
      for (let i = 0; i < n; i++) {
        const x = await connectNative(this.dsn, ctx.job, ctx.log, ctx.signal);
        opened.push(x);
        await this.setupSession(x.conn);
      }
      return opened;
    } catch (err) {
      ctx.signal.throwIfAborted();
      ctx.log.warn(`job "${ctx.job.name}": reading with one connection, could not open another (${(err as Error).message})`);
      await Promise.all(opened.map((x) => x.close().catch(() => undefined)));
      return [];
    }
  }

  /** This session's snapshot's binlog coordinates (MariaDB). */
  private async snapshotCoords(conn: Connection): Promise<DumpInfo['binlog']> {
    const rows = await q(conn, "SHOW STATUS LIKE 'binlog_snapshot_%'");
    const m = new Map(rows.map((r) => [str(r.Variable_name).toLowerCase(), str(r.Value)]));
    const file = m.get('binlog_snapshot_file');
    const pos = m.get('binlog_snapshot_position');
    return file && pos ? { file, position: Number(pos) } : undefined;
  }

  private async run(conn: Connection, out: Writable, ctx: JobContext): Promise<DumpInfo> {
    const o = this.opts;
    this.signal = ctx.signal;
    const [ver] = await q(conn, 'SELECT VERSION() AS v, @@log_bin AS log_bin, @@hostname AS host');
    const version = str(ver!.v);
    const mariadb = /mariadb/i.test(version);
    await this.setupSession(conn);

    // One snapshot for every table, with binlog coordinates that belong to it. More connections (--threads) read
    // big tables in key ranges, but only in snapshots provably the same as this one: started under MySQL's read lock,
    // or (MariaDB) reporting the same binlog position, i.e. no transaction committed between them. Elsewhere there is
    // no such proof and one connection reads everything.
    let binlog: DumpInfo['binlog'];
    const logBin = Number(ver!.log_bin) === 1;
    const local = !this.ssh && serverIsLocal(this.dsn);
    const threads = o.threads === 'auto' ? (o.data && logBin ? await this.autoThreads(conn, local) : 1) : o.threads;
    if (o.threads === 'auto') {
      const why = o.data && logBin && threads === 1 && local && availableParallelism() < AUTO_LOCAL_CORES ? ` (the server runs on this machine's ${availableParallelism()} cores)` : '';
      ctx.log.info(`job "${ctx.job.name}": --threads=auto: ${threads} connection${threads > 1 ? 's' : ''}${why}`);
    }
    const extras = o.data && threads > 1 && logBin ? await this.openExtras(threads - 1, ctx) : [];
    this.extras = extras; // closed by dump() whatever happens; closeExtras() empties the same array
    const closeExtras = async (why: string) => {
      if (!extras.length) return;
      ctx.log.info(`job "${ctx.job.name}": reading with one connection: ${why}`);
      await Promise.all(extras.splice(0).map((x) => x.close().catch(() => undefined)));
    };
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
      if (locked) await Promise.all(extras.map((x) => q(x.conn, 'START TRANSACTION WITH CONSISTENT SNAPSHOT')));
      else await closeExtras('no read lock to start their snapshots under');
      binlog = await this.binlogStatus(conn);
      if (locked) await q(conn, 'UNLOCK TABLES');
    } else {
      // MariaDB reports the coordinates of each transaction's snapshot itself, no lock needed.
      for (let attempt = 1; ; attempt++) {
        const all = [conn, ...extras.map((x) => x.conn)];
        await Promise.all(all.map((c) => q(c, 'START TRANSACTION WITH CONSISTENT SNAPSHOT')));
        if (!logBin) break;
        const coords = await Promise.all(all.map((c) => this.snapshotCoords(c)));
        binlog = coords[0];
        const same = binlog && coords.every((c) => c?.file === binlog!.file && c.position === binlog!.position);
        if (same || !extras.length) break;
        if (attempt === 5) {
          await Promise.all(extras.map((x) => q(x.conn, 'ROLLBACK').catch(() => undefined)));
          await closeExtras('commits kept landing between the snapshots of its connections');
          break;
        }
        await Promise.all(all.map((c) => q(c, 'ROLLBACK')));
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
    return { binlog, server: version, databases, tables: this.tableRows, details: { server: version, databases, ...stats } };
  }

  /**
   * How to split a table between connections, if it is big enough: by its primary key's first column when that is
   * an integer (the whole key for a one-column key). Each range is read in the full key's order, which is InnoDB's
   * clustered order, the order one connection reads in.
   */
  private async rangePlan(conn: Connection, db: string, table: string): Promise<{ key: string; order: string[]; ranges: KeyRange[] } | undefined> {
    const o = this.opts;
    const [t] = await q(conn, 'SELECT TABLE_ROWS AS r, DATA_LENGTH AS d, ENGINE AS e FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [db, table]);
    // Only InnoDB reads in the shared snapshot; other engines are read by the one connection as before.
    if (!t || str(t.e).toLowerCase() !== 'innodb') return undefined;
    const rows = Number(t.r) || 0;
    const data = Number(t.d) || 0;
    if (!o.chunkRows && data < 2 * CHUNK_DATA_BYTES) return undefined;
    const pk = await q(
      conn,
      "SELECT s.COLUMN_NAME AS n, c.DATA_TYPE AS t FROM information_schema.STATISTICS s JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = s.TABLE_SCHEMA AND c.TABLE_NAME = s.TABLE_NAME AND c.COLUMN_NAME = s.COLUMN_NAME WHERE s.TABLE_SCHEMA = ? AND s.TABLE_NAME = ? AND s.INDEX_NAME = 'PRIMARY' ORDER BY s.SEQ_IN_INDEX",
      [db, table],
    );
    if (!pk.length || !INT_TYPES.has(str(pk[0]!.t).toLowerCase())) return undefined;
    const key = str(pk[0]!.n);
    const K = quoteIdent(key);
    const [mm] = await q(conn, `SELECT MIN(${K}) AS lo, MAX(${K}) AS hi FROM ${quoteIdent(db)}.${quoteIdent(table)}`);
    if (!mm || mm.lo === null || mm.hi === null) return undefined;
    const rowsPerRange = o.chunkRows || Math.max(1000, Math.floor(CHUNK_DATA_BYTES / Math.max(1, data / Math.max(1, rows))));
    const ranges = planRanges(BigInt(str(mm.lo)), BigInt(str(mm.hi)), rows, rowsPerRange);
    return ranges.length > 1 ? { key, order: pk.map((c) => str(c.n)), ranges } : undefined;
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

  /**
   * --threads=auto: a second connection only helps when this client has a second core to parse and format rows on
   * (and, with the server on the same machine, cores for its second thread too: autoConnections) and some InnoDB
   * table to dump is big enough for rangePlan() to split (two ranges of CHUNK_DATA_BYTES).
   */
  private async autoThreads(conn: Connection, local: boolean): Promise<number> {
    if (autoConnections(availableParallelism(), local, true) < 2) return 1;
    const dbs = await this.databases(conn);
    if (!dbs.length) return 1;
    const [big] = await q(
      conn,
      `SELECT 1 AS x FROM information_schema.TABLES WHERE TABLE_SCHEMA IN (${dbs.map(() => '?').join(', ')}) AND TABLE_TYPE = 'BASE TABLE' AND ENGINE = 'InnoDB' AND DATA_LENGTH >= ? LIMIT 1`,
      [...dbs, 2 * CHUNK_DATA_BYTES],
    );
    return big ? 2 : 1;
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
      const n = await this.dumpRows(conn, out, db, name, ctx);
      stats.rows! += n;
      // For the manifest: the rows streamed, named as the dump names them (a database only when it says USE).
      this.tableRows.push({ ...(multi ? { database: db } : {}), name, rows: n });
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
      'SELECT COLUMN_NAME AS n, DATA_TYPE AS t, CHARACTER_SET_NAME AS cs, COLLATION_NAME AS co, COLUMN_TYPE AS ct, EXTRA AS x FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
      [db, table],
    );
    const cols: Column[] = [];
    // Generated columns cannot be inserted into; invisible ones are selected by name (SELECT * skips them).
    for (const r of rows) {
      if (/\b(VIRTUAL|STORED|PERSISTENT) GENERATED\b/i.test(str(r.x))) continue;
      const name = str(r.n);
      const N = quoteIdent(name);
      const type = str(r.t).toLowerCase();
      const cs = r.cs === null ? null : str(r.cs).toLowerCase();
      const kind = columnKind(type, cs);
      if (type === 'float') {
        // MariaDB sends FLOAT as 6 significant digits (16777216 arrives as "16777200"); widened to DOUBLE the text
        // is the float's exact value, which converts back to the same float on insert. Negative zero (a FLOAT
        // reaches it by underflow: -1e-300 stored into it) is sent as "0" and no literal of zero reloads as it
        // (the server stores -0e0 and '-0' as +0); -1e-300 does, by the same underflow.
        cols.push({ name, kind, expr: `IF(${N} = 0 AND ATAN2(${N}, -1) < 0, -1e-300, ${N} + 0e0)` });
      } else if (type === 'enum' || type === 'set') {
        // By name, unless a name does not say which member it was: an '' member (an ENUM's '' is also index 0,
        // a SET's '' member is left out of the text) or two members equal under the column's collation ('a' and
        // 'A' in a _ci one), which reload as the first of them, or names in a character set that may not survive
        // utf8mb4. Those columns are written as their numbers.
        const exact = cs !== null && UTF8_SAFE_CHARSETS.has(cs) && (await this.namesReloadExactly(conn, str(r.ct), cs, r.co === null ? null : str(r.co)));
        if (!exact) cols.push({ name, kind: 'number', expr: `(${N} + 0)` });
        else cols.push({ name, kind: type === 'enum' ? 'enum' : 'quoted', expr: N });
      } else if (TEXT_TYPES.has(type) && kind === 'quoted' && cs !== null && !UTF8_SAFE_CHARSETS.has(cs)) {
        const intro = `_${cs} `;
        if (!/^_[a-z0-9]+ $/.test(intro) || intro.length > INTRO_ROOM) throw new PermanentError(`column ${db}.${table}.${name} has a character set onedump does not know ("${cs}").`);
        cols.push({ name, kind: 'charset-hex', expr: `CAST(${N} AS BINARY)`, intro });
      } else cols.push({ name, kind, expr: N });
    }
    return cols;
  }

  /** Whether every ENUM/SET member's name reloads as that member (see columns()); asks the server's collation. */
  private async namesReloadExactly(conn: Connection, columnType: string, cs: string | null, collation: string | null): Promise<boolean> {
    const members = memberLiterals(columnType);
    if (!members.length || members.length > MAX_CHECKED_MEMBERS || !cs || !collation || !/^\w+$/.test(cs) || !/^\w+$/.test(collation)) return false;
    const sel = members.map((m) => `SELECT CONVERT(${m} USING ${cs}) COLLATE ${collation} AS v`).join(' UNION ALL ');
    try {
      const [r] = await q(conn, `SELECT COUNT(*) AS n, COUNT(DISTINCT v) AS d, SUM(CHAR_LENGTH(v) = 0) AS e FROM (${sel}) AS m`);
      return Number(r!.n) === members.length && Number(r!.d) === members.length && Number(r!.e) === 0;
    } catch {
      return false;
    }
  }

  /** Streams one table's rows as extended INSERTs cut near net_buffer_length; pauses the connection when `out` is full. */
  private async dumpRows(conn: Connection, out: Writable, db: string, table: string, ctx: JobContext): Promise<number> {
    const o = this.opts;
    const T = quoteIdent(table);
    const cols = await this.columns(conn, db, table);
    if (!cols.length) return 0;
    const colList = cols.map((c) => quoteIdent(c.name)).join(',');
    await put(out, `--\n-- Dumping data for table ${T}\n--\n\n${o.addLocks ? `LOCK TABLES ${T} WRITE;\n` : ''}/*!40000 ALTER TABLE ${T} DISABLE KEYS */;\n`, this.signal);
    const kindCodes = Uint8Array.from(cols.map((c) => KIND_CODES[c.kind]));
    const intros = cols.some((c) => c.intro) ? cols.map((c) => (c.intro ? Buffer.from(c.intro, 'latin1') : undefined)) : undefined;
    const f: TableFormat = { db, table, prefix: Buffer.from(`INSERT INTO ${T} (${colList}) VALUES `), kindCodes, hasBits: kindCodes.includes(KIND_BITS), intros, limit: o.netBufferLength };
    const select = `SELECT ${cols.map((c) => c.expr).join(',')} FROM ${quoteIdent(db)}.${T}`;
    const plan = this.extras.length ? await this.rangePlan(conn, db, table) : undefined;
    let rows: number;
    if (plan) {
      const K = quoteIdent(plan.key);
      const order = plan.order.map(quoteIdent).join(',');
      const sqlFor = (r: KeyRange) => `${select} WHERE ${K} BETWEEN ${r.lo} AND ${r.hi} ORDER BY ${order}`;
      rows = await streamRanges([conn, ...this.extras.map((x) => x.conn)], plan.ranges, sqlFor, f, out, ctx.signal);
    } else rows = await streamTable(conn, select, f, out, ctx.signal);
    await put(out, `/*!40000 ALTER TABLE ${T} ENABLE KEYS */;\n${o.addLocks ? 'UNLOCK TABLES;\n' : ''}\n`, this.signal);
    return rows;
  }
}
