#!/usr/bin/env node
// Writes a slow log of about SIZE_MB megabytes that is as varied as logs from real servers, to
// test speed and grouping on input that bench/gen-slowlog.mjs is too regular to show:
//
//  - segments from three servers, each after a MySQL-form restart banner: MySQL 8.4 (ISO `# Time:`,
//    half of the entries with log_slow_extra), MariaDB 10.11 (`# Time: YYMMDD HH:MM:SS` only when the
//    second changes, `# Thread_id: … Schema: … QC_hit:`, `# Rows_affected:`, log_slow_verbosity lines
//    `# Full_scan:`/`# Filesort:`, `# explain:` lines and bare `#` lines) and Percona Server
//    (`# Schema: … Last_errno:`, `# Log_slow_rate_type:`, `Rows_affected` on the Query_time line, `# Bytes_sent:`,
//    `# InnoDB_trx_id:`, `# QC_Hit: No  Full_scan: …`, `#   InnoDB_IO_r_ops: …`);
//  - ~2,500 statement shapes over several schemas, hit with a skewed (Zipf-like) distribution;
//  - multi-line statements with `/* */`, `-- ` and `#` comments; long IN lists and multi-row
//    INSERTs of 10-100 KB; quoted strings with every escape (`\'`, `\"`, `\\`, `\n`, `\0`, `\Z`, `%`,
//    `_`), double-quoted strings, raw control bytes (NUL, \x01-\x1f, DEL), invalid UTF-8 bytes and
//    valid multi-byte text inside literals, literals spanning lines;
//  - `use db;`, `SET timestamp=…;` and `SET insert_id=…;` lines, administrator commands (Quit, Ping,
//    Init DB, Close stmt, Prepare, Reset stmt), CALL, SHOW, BEGIN/COMMIT, UNION, INSERT … ON
//    DUPLICATE KEY UPDATE, LIMIT ?, ? / OFFSET.
//
// A small share (DEFECT_SHARE, about 0.3 % of the entries) holds the two pt-query-digest defects that
// a real log shows most often: a doubled quote in a string (`'O''Brien'`, pt-query-digest makes `??`
// of it) and an upper-case hex literal (`0xDEADBEEF`, `?deadbeef` there). bench/slow.sh lists the
// classes where the two tools differ with the reason; pass --no-defects to leave them out.
//
//   node bench/gen-slowlog-varied.mjs OUT SIZE_MB [SEED] [--no-defects]
//
// The output is written byte for byte (latin1 strings are bytes here), so invalid UTF-8 stays invalid.
import { Buffer } from 'node:buffer';
import { createWriteStream } from 'node:fs';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const noDefects = process.argv.includes('--no-defects');
const [out, sizeArg, seedArg] = args;
if (!out || !sizeArg) {
  console.error('usage: node bench/gen-slowlog-varied.mjs OUT SIZE_MB [SEED] [--no-defects]');
  process.exit(2);
}
const targetBytes = Number(sizeArg) * 1024 * 1024;
let seed = Number(seedArg ?? 7) >>> 0;
function rand() {
  // mulberry32 (testutils/rng.ts): deterministic, so runs are comparable.
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n) => Math.floor(rand() * n);
const pick = (a) => a[int(a.length)];
const chance = (p) => rand() < p;
const DEFECT_SHARE = noDefects ? 0 : 0.003;

// Names without digits: pt-query-digest's number rule would fold `t1` and `t2` into one shape.
const TABLES = [
  'orders',
  'customers',
  'line_items',
  'invoices',
  'sessions',
  'events',
  'payments',
  'audit_log',
  'products',
  'stock',
  'carts',
  'users',
  'accounts',
  'shipments',
  'refunds',
  'coupons',
  'reviews',
  'tags',
  'images',
  'notes',
  'wishlists',
  'addresses',
];
const COLUMNS = [
  'id',
  'name',
  'status',
  'email',
  'created_at',
  'updated_at',
  'amount',
  'region',
  'kind',
  'owner_id',
  'title',
  'price',
  'qty',
  'flag',
  'score',
  'note',
  'country',
  'currency',
  'parent_id',
  'deleted_at',
];
const SCHEMAS = ['shop', 'billing', 'analytics', 'crm', 'warehouse', 'reporting'];
const USERS = ['app', 'report', 'admin', 'etl', 'web', 'cron'];
const HOSTS = [
  ['', '10.0.0.11'],
  ['', '10.0.0.12'],
  ['web-a.internal', '10.0.1.5'],
  ['localhost', ''],
  ['batch.local', '10.0.2.9'],
];
const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima'];
const utf8 = (s) => Buffer.from(s, 'utf8').toString('latin1');
const MULTIBYTE = ['café', 'naïve', 'Zürich', '日本語', 'Ελληνικά', 'emoji 😀', 'Łódź', 'крем'].map(utf8);

// ---- literals ----
function plainString() {
  return `'${pick(WORDS)}${int(1000)}'`;
}
/** A string literal with escapes, raw control bytes, invalid UTF-8 or multi-byte text. */
function messyString(quote = "'") {
  let s = '';
  const n = 1 + int(6);
  for (let k = 0; k < n; k++) {
    switch (int(9)) {
      case 0:
        s += pick(["\\'", '\\"', '\\\\', '\\n', '\\r', '\\t', '\\0', '\\Z', '\\%', '\\_', '\\b']);
        break;
      case 1:
        s += String.fromCharCode(pick([0, 1, 2, 7, 8, 9, 11, 12, 14, 27, 31, 127]));
        break; // raw control bytes
      case 2:
        s += String.fromCharCode(0x80 + int(0x80));
        break; // a lone byte >= 0x80: invalid UTF-8
      case 3:
        s += pick(MULTIBYTE);
        break;
      case 4:
        s += '\n' + pick(WORDS);
        break; // a literal spanning lines (the next line starts with a word)
      case 5:
        s += pick(['--x', ' # tag', '/* not a comment */', 'a;b', '@', '?']);
        break; // comment-like text in a string
      default:
        s += pick(WORDS) + (chance(0.5) ? ' ' : '');
    }
  }
  // Quotes and backslashes only ever appear as the escapes above: the literal always closes where it should.
  return quote + s + quote;
}
function num() {
  switch (int(5)) {
    case 0:
      return String(int(10));
    case 1:
      return String(int(1e7));
    case 2:
      return (rand() * 1000).toFixed(2);
    case 3:
      return '-' + int(500);
    default:
      return String(int(100000));
  }
}
function value() {
  const r = rand();
  if (r < 0.4) return num();
  if (r < 0.65) return plainString();
  if (r < 0.85) return messyString(chance(0.2) ? '"' : "'");
  if (r < 0.9) return 'NULL';
  if (r < 0.95) return `'2025-0${1 + int(9)}-1${int(10)} 1${int(10)}:00:00'`;
  return chance(0.5) ? 'TRUE' : "x'0a1b'";
}
function defectString() {
  return chance(0.5) ? `'O''${pick(['Brien', 'Neil', 'Hara'])}'` : `0x${pick(['DEADBEEF', 'CAFE', '1F3A', 'ABCDEF12'])}`;
}

// ---- statement shapes: each is a function of nothing that writes one statement (without `;`) ----
const cols = (k) => {
  const set = new Set();
  while (set.size < k) set.add(pick(COLUMNS));
  return [...set];
};
function makeShape() {
  const t = pick(TABLES);
  const u = pick(TABLES.filter((x) => x !== t));
  const c = cols(1 + int(5));
  const w = cols(1 + int(3));
  const kind = int(16);
  // Operators are part of the shape (the application's code), literals vary per statement.
  const ops = w.map((_, i) => [i ? pick([' AND ', ' and ', ' OR ']) : '', pick(['=', '>', '<', '<>', '>=', 'LIKE'])]);
  const order = pick(['DESC', 'ASC', '']);
  const where = (vals = value) => w.map((x, i) => `${ops[i][0]}${x} ${ops[i][1]} ${vals()}`).join('');
  switch (kind) {
    case 0:
    case 1:
      return () => `SELECT ${c.join(', ')} FROM ${t} WHERE ${where()}`;
    case 2:
      return () =>
        `SELECT ${c.join(', ')} FROM ${t} WHERE ${where()} ORDER BY ${c[0]} ${order} LIMIT ${int(100)}${pick(['', `, ${int(50)}`, ` OFFSET ${int(900)}`])}`;
    case 3: {
      const style = int(3);
      return () => {
        const comment = style === 0 ? `/* ${pick(WORDS)} report */\n` : style === 1 ? `-- from the ${pick(WORDS)} job\n` : '';
        return (
          `${comment}SELECT ${c.map((x) => `a.${x}`).join(',\n       ')}\n  FROM ${t} a\n  JOIN ${u} b ON b.id = a.${pick(COLUMNS)} /* join ${pick(WORDS)} */\n` +
          `# filter on ${pick(WORDS)}\n WHERE a.${w[0]} = ${value()}\n   -- and the date\n   AND b.created_at > ${value()}\n GROUP BY a.${c[0]}\n  HAVING COUNT(*) > ${int(10)}`
        );
      };
    }
    case 4:
      // Long IN lists: up to ~100 KB of numbers, or of strings.
      return () => {
        const n = chance(0.05) ? 2000 + int(15000) : 1 + int(200);
        const strings = chance(0.3);
        const items = [];
        for (let k = 0; k < n; k++) items.push(strings ? plainString() : String(int(1e7)));
        return `SELECT ${c.join(', ')} FROM ${t} WHERE ${w[0]} IN (${items.join(pick([',', ', ']))})${chance(0.5) ? ` AND ${w[0]} IS NOT NULL` : ''}`;
      };
    case 5:
      // Multi-row INSERTs: up to ~100 KB.
      return () => {
        const rows = chance(0.05) ? 300 + int(1500) : 1 + int(20);
        const parts = [];
        for (let r = 0; r < rows; r++) parts.push(`(${c.map(() => value()).join(',')})`);
        return `INSERT ${pick(['', 'IGNORE '])}INTO ${t} (${c.join(',')}) VALUES ${parts.join(pick([',', ',\n', ', ']))}`;
      };
    case 6:
      return () => `UPDATE ${t} SET ${c.map((x) => `${x} = ${value()}`).join(', ')} WHERE ${where()}`;
    case 7:
      return () => `DELETE FROM ${t} WHERE ${where()} LIMIT ${int(1000)}`;
    case 8:
      return () =>
        `INSERT INTO ${t} (${c.join(', ')}) VALUES (${c.map(() => value()).join(', ')}) ON DUPLICATE KEY UPDATE ${c[0]} = VALUES(${c[0]})`;
    case 9:
      return () => `SELECT ${c[0]} FROM ${t} WHERE ${w[0]} = ${value()} UNION ALL SELECT ${c[0]} FROM ${u} WHERE ${w[0]} = ${value()}`;
    case 10:
      return () =>
        `SELECT /*+ MAX_EXECUTION_TIME(${1000 + int(9000)}) */ COUNT(*) FROM \`${t}\` WHERE \`${w[0]}\` BETWEEN ${num()} AND ${num()}`;
    case 11:
      return () =>
        `UPDATE ${t}\n   SET ${c[0]} = ${value()}, -- set by the ${pick(WORDS)} job\n       updated_at = NOW()\n /* keyed */ WHERE id = ${int(1e6)}`;
    case 12:
      return () => `SELECT * FROM ${t} WHERE ${w[0]} = ${value()} AND flag = ${pick(['true', 'false', 'TRUE'])} AND ${c[0]} IS NULL`;
    case 13:
      return () => `REPLACE INTO ${t} (${c.join(', ')}) VALUES (${c.map(() => value()).join(', ')})`;
    case 14:
      return () => `SELECT ${c.join(', ')} FROM ${t} WHERE ${w[0]} = ${value()} FOR UPDATE`;
    default:
      return () => `SELECT SQL_CALC_FOUND_ROWS ${c.join(', ')} FROM ${t} FORCE INDEX (PRIMARY) WHERE ${where()} LIMIT ${int(50)}`;
  }
}
const SHAPES = Array.from({ length: 2500 }, makeShape);
const SMALL = [
  () => 'COMMIT',
  () => 'BEGIN',
  () => 'ROLLBACK',
  () => 'START TRANSACTION',
  () => `SHOW VARIABLES LIKE '${pick(WORDS)}%'`,
  () => 'SHOW GLOBAL STATUS',
  () => `SET NAMES ${pick(['utf8mb4', 'latin1'])}`,
  () => 'SELECT @@version',
  () => `CALL refresh_${pick(['stats', 'totals', 'caches'])}(${int(99)}, ${value()})`,
  () => `SET autocommit=${int(2)}`,
];
const ADMIN = ['Quit', 'Ping', 'Init DB', 'Close stmt', 'Prepare', 'Reset stmt', 'Statistics'];

/** Zipf-like pick: a few shapes are hot, most are in the long tail. */
function statement() {
  if (chance(0.08)) return pick(SMALL)();
  const i = Math.min(SHAPES.length - 1, Math.floor(Math.pow(rand(), 2.2) * SHAPES.length));
  let s = SHAPES[i]();
  if (chance(DEFECT_SHARE)) s += ` AND ${pick(COLUMNS)} = ${defectString()}`;
  return s;
}

// ---- headers ----
let micros = Date.UTC(2025, 9, 1) * 1000;
const p2 = (n) => String(n).padStart(2, '0');
function iso(us) {
  const ms = Math.floor(us / 1000);
  return new Date(ms).toISOString().slice(0, -1) + String(us % 1000).padStart(3, '0') + 'Z';
}
function oldTime(us) {
  const d = new Date(Math.floor(us / 1000));
  return `${p2(d.getUTCFullYear() % 100)}${p2(d.getUTCMonth() + 1)}${p2(d.getUTCDate())} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`;
}
const qt = () => (chance(0.01) ? 1 + rand() * 30 : rand() * 0.8).toFixed(6);
const lt = () => (rand() * 0.002).toFixed(6);
function userHost(server, id) {
  const user = pick(USERS);
  const [host, ip] = pick(HOSTS);
  const idPart = server === 'mariadb' ? '' : `  Id: ${String(id).padStart(5, ' ')}`;
  return `# User@Host: ${user}[${user}] @ ${host} [${ip}]${idPart}\n`;
}

const BANNERS = {
  mysql:
    '/usr/sbin/mysqld, Version: 8.4.5 (MySQL Community Server - GPL). started with:\nTcp port: 3306  Unix socket: /var/run/mysqld/mysqld.sock\nTime                 Id Command    Argument\n',
  percona:
    '/usr/sbin/mysqld, Version: 8.0.36-28 (Percona Server (GPL), Release 28, Revision 47601f19). started with:\nTcp port: 3306  Unix socket: /var/lib/mysql/mysql.sock\nTime                 Id Command    Argument\n',
  // MariaDB writes its banner as `…mariadbd, Version: …`; pt-query-digest glues that one to the entry
  // before it (docs/slow.md), so the MariaDB segments start after the MySQL form, which both tools read.
  mariadb:
    '/usr/sbin/mysqld, Version: 10.11.6-MariaDB-log (MariaDB Server). started with:\nTcp port: 3306  Unix socket: /run/mysqld/mysqld.sock\nTime                 Id Command    Argument\n',
};

let lastDb = '';
let lastSecond = -1;
function entry(server) {
  micros += 1 + int(30_000);
  const id = 1 + int(5000);
  const sent = int(1000);
  const examined = sent + int(200_000);
  const db = chance(0.9) && lastDb ? lastDb : pick(SCHEMAS);
  const admin = chance(0.02);
  const sql = admin ? '' : statement();
  let s = '';
  if (server === 'mysql') {
    s += `# Time: ${iso(micros)}\n${userHost(server, id)}`;
    s += `# Query_time: ${qt()}  Lock_time: ${lt()} Rows_sent: ${sent}  Rows_examined: ${examined}`;
    if (chance(0.5)) {
      s += ` Thread_id: ${id} Errno: ${chance(0.02) ? 1062 : 0} Killed: 0 Bytes_received: ${sql.length} Bytes_sent: ${int(90000)} Read_first: ${int(2)} Read_last: 0 Read_key: ${int(99)} Read_next: ${int(999)} Read_prev: 0 Read_rnd: 0 Read_rnd_next: ${int(9999)} Sort_merge_passes: 0 Sort_range_count: 0 Sort_rows: ${int(99)} Sort_scan_count: ${int(2)} Created_tmp_disk_tables: 0 Created_tmp_tables: ${int(2)} Count_hit_tmp_table_size: 0  Start: ${iso(micros - 900)} End: ${iso(micros)}`;
    }
    s += '\n';
    if (db !== lastDb) s += `use ${db};\n`;
  } else if (server === 'mariadb') {
    const second = Math.floor(micros / 1e6);
    if (second !== lastSecond) s += `# Time: ${oldTime(micros)}\n`;
    lastSecond = second;
    s += userHost(server, id);
    s += `# Thread_id: ${id}  Schema: ${db}  QC_hit: No\n`;
    s += `# Query_time: ${qt()}  Lock_time: ${lt()}  Rows_sent: ${sent}  Rows_examined: ${examined}\n`;
    s += `# Rows_affected: ${int(10)}  Bytes_sent: ${int(90000)}\n`;
    if (chance(0.4))
      s += `# Pages_accessed: ${int(500)}  Pages_read: ${int(5)}  Pages_prefetched: 0  Pages_updated: 0  Undo_records_read: 0  Old_rows_read: 0\n# Pages_read_time: 0.0000  Engine_time: ${rand().toFixed(4)}\n`;
    if (chance(0.6)) {
      s += `# Full_scan: ${pick(['Yes', 'No'])}  Full_join: No  Tmp_table: No  Tmp_table_on_disk: No\n# Filesort: No  Filesort_on_disk: No  Merge_passes: 0  Priority_queue: No\n`;
      if (chance(0.5))
        s += `#\n# explain: id\tselect_type\ttable\ttype\tpossible_keys\tkey\tkey_len\tref\trows\tr_rows\tfiltered\tr_filtered\tExtra\n# explain: 1\tSIMPLE\t${pick(TABLES)}\tALL\tNULL\tNULL\tNULL\tNULL\t${int(9999)}\t${int(9999)}.00\t100.00\t${int(100)}.00\tUsing where\n#\n`;
    }
    if (db !== lastDb) s += `use ${db};\n`;
  } else {
    s += `# Time: ${iso(micros)}\n${userHost(server, id)}`;
    s += `# Schema: ${db}  Last_errno: 0  Killed: 0\n`;
    s += '# Log_slow_rate_type: query  Log_slow_rate_limit: 10\n'; // Percona with log_slow_rate_limit
    s += `# Query_time: ${qt()}  Lock_time: ${lt()}  Rows_sent: ${sent}  Rows_examined: ${examined}  Rows_affected: ${int(10)}\n`;
    s += `# Bytes_sent: ${int(90000)}  Tmp_tables: ${int(2)}  Tmp_disk_tables: 0  Tmp_table_sizes: 0\n`;
    s += `# InnoDB_trx_id: ${(0x1a2b3c + int(1e6)).toString(16).toUpperCase()}\n`;
    s += `# QC_Hit: No  Full_scan: ${pick(['Yes', 'No'])}  Full_join: No  Tmp_table: No  Tmp_table_on_disk: No\n`;
    s += `# Filesort: No  Filesort_on_disk: No  Merge_passes: 0\n`;
    s += `#   InnoDB_IO_r_ops: ${int(50)}  InnoDB_IO_r_bytes: ${int(50) * 16384}  InnoDB_IO_r_wait: 0.00${int(9999)}\n`;
    s += `#   InnoDB_rec_lock_wait: 0.000000  InnoDB_queue_wait: 0.000000\n`;
    s += `#   InnoDB_pages_distinct: ${int(60)}\n`;
    if (db !== lastDb) s += `use ${db};\n`;
  }
  lastDb = db;
  if (!admin && chance(0.03)) s += `SET insert_id=${int(1e6)};\n`;
  s += `SET timestamp=${Math.floor(micros / 1e6)};\n`;
  s += admin ? `# administrator command: ${pick(ADMIN)};\n` : `${sql};\n`;
  return s;
}

const file = createWriteStream(out);
let written = 0;
let buf = '';
const SEGMENT = Math.max(256 << 10, Math.floor(targetBytes / 12));
const servers = ['mysql', 'mariadb', 'percona'];
let segment = 0;
let segmentBytes = 0;
let server = 'mysql';
buf += BANNERS.mysql;
while (written + buf.length < targetBytes) {
  const e = entry(server);
  buf += e;
  segmentBytes += e.length;
  if (segmentBytes > SEGMENT) {
    segment++;
    segmentBytes = 0;
    server = servers[segment % servers.length];
    buf += BANNERS[server];
    lastDb = ''; // a restarted server writes `use` again
    lastSecond = -1;
  }
  if (buf.length > 1 << 20) {
    written += buf.length;
    if (!file.write(Buffer.from(buf, 'latin1'))) await new Promise((resolve) => file.once('drain', resolve));
    buf = '';
  }
}
file.end(Buffer.from(buf, 'latin1'));
await new Promise((resolve) => file.on('finish', resolve));
