#!/usr/bin/env node
// Writes a MySQL 8 slow log (log_slow_extra on for half the entries) of about SIZE_MB megabytes
// to OUT, with ~60 statement shapes and varied literals, multi-line statements, `use db;` lines,
// administrator commands and a mid-file server restart banner. It avoids pt-query-digest's known
// defect cases so that both tools must agree on every per-fingerprint count.
//
//   node bench/gen-slowlog.mjs OUT SIZE_MB [SEED]
import { createWriteStream } from 'node:fs';

const [out, sizeArg, seedArg] = process.argv.slice(2);
if (!out || !sizeArg) {
  console.error('usage: node bench/gen-slowlog.mjs OUT SIZE_MB [SEED]');
  process.exit(2);
}
const targetBytes = Number(sizeArg) * 1024 * 1024;
let seed = Number(seedArg ?? 42) >>> 0;
function rand() {
  // mulberry32: deterministic, so runs are comparable.
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n) => Math.floor(rand() * n);
const pick = (a) => a[int(a.length)];
const word = () => pick(['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel']) + int(1000);

const tables = ['orders', 'customers', 'products', 'invoices', 'sessions', 'events', 'payments', 'audit_log'];
const shapes = [];
for (const t of tables) {
  shapes.push(() => `SELECT * FROM ${t} WHERE id = ${int(1e6)};`);
  shapes.push(() => `SELECT id, name FROM ${t} WHERE name = '${word()}' AND status IN (${int(5)}, ${int(5)}, ${int(5)}) ORDER BY id DESC LIMIT ${int(100)};`);
  shapes.push(() => `UPDATE ${t} SET updated_at = '2025-0${1 + int(9)}-1${int(9)} 10:00:00', counter = counter + ${int(9)} WHERE id = ${int(1e6)};`);
  shapes.push(() => `INSERT INTO ${t} (a, b, c) VALUES (${int(1e4)}, '${word()}', NULL), (${int(1e4)}, '${word()}', ${rand().toFixed(3)});`);
  shapes.push(() => `DELETE FROM ${t} WHERE created_at < '2024-01-${10 + int(18)}' LIMIT ${int(1000)};`);
  shapes.push(() => `SELECT COUNT(*) FROM ${t} t JOIN customers c ON c.id = t.customer_id\n  WHERE c.region = '${word()}'\n    AND t.amount > ${int(500)}\n  GROUP BY c.region;`);
  shapes.push(() => `SELECT ${t}.id FROM ${t} WHERE flag = true AND note IS NULL LIMIT ${int(50)}, ${int(50)};`);
}
shapes.push(() => 'COMMIT;');
shapes.push(() => 'BEGIN;');
shapes.push(() => `SHOW VARIABLES LIKE '${word()}';`);
shapes.push(() => `CALL refresh_stats(${int(99)}, '${word()}');`);

const dbs = ['shop', 'billing', 'analytics'];
const users = ['app', 'report', 'admin'];
const hosts = ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'];

const file = createWriteStream(out);
let written = 0;
let micros = Date.UTC(2025, 1, 24) * 1000;
let lastDb = '';
let thread = 1;
let buf = '';

function iso(us) {
  const ms = Math.floor(us / 1000);
  return new Date(ms).toISOString().slice(0, -1) + String(us % 1000).padStart(3, '0') + 'Z';
}

function entry() {
  micros += 1 + int(20_000);
  const queryTime = (rand() < 0.01 ? 1 + rand() * 20 : rand() * 0.5).toFixed(6);
  const lock = (rand() * 0.001).toFixed(6);
  const sent = int(1000);
  const examined = sent + int(100_000);
  const host = pick(hosts);
  const user = pick(users);
  const extra = rand() < 0.5;
  let s = `# Time: ${iso(micros)}\n# User@Host: ${user}[${user}] @  [${host}]  Id: ${thread}\n`;
  s += `# Query_time: ${queryTime}  Lock_time: ${lock} Rows_sent: ${sent}  Rows_examined: ${examined}`;
  if (extra) {
    s += ` Thread_id: ${thread} Errno: 0 Killed: 0 Bytes_received: ${int(500)} Bytes_sent: ${int(5000)} Read_first: 0 Read_last: 0 Read_key: ${int(9)} Read_next: 0 Read_prev: 0 Read_rnd: 0 Read_rnd_next: ${int(999)} Sort_merge_passes: 0 Sort_range_count: 0 Sort_rows: ${int(99)} Sort_scan_count: 0 Created_tmp_disk_tables: 0 Created_tmp_tables: 0 Count_hit_tmp_table_size: 0  Start: ${iso(micros - 1000)} End: ${iso(micros)}`;
  }
  s += '\n';
  const db = pick(dbs);
  if (db !== lastDb) {
    s += `use ${db};\n`;
    lastDb = db;
  }
  s += `SET timestamp=${Math.floor(micros / 1e6)};\n`;
  s += rand() < 0.01 ? '# administrator command: Quit;\n' : `${pick(shapes)()}\n`;
  thread = 1 + int(64);
  return s;
}

const header = '/usr/sbin/mysqld, Version: 8.4.5 (MySQL Community Server - GPL). started with:\nTcp port: 3306  Unix socket: /var/run/mysqld/mysqld.sock\nTime                 Id Command    Argument\n';
buf += header;
let restarted = false;
while (written + buf.length < targetBytes) {
  buf += entry();
  if (!restarted && written > targetBytes / 2) {
    buf += header;
    restarted = true;
  }
  if (buf.length > 1 << 20) {
    written += buf.length;
    if (!file.write(buf)) await new Promise((resolve) => file.once('drain', resolve));
    buf = '';
  }
}
file.end(buf);
await new Promise((resolve) => file.on('finish', resolve));
