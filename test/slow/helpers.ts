import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { sharedFixtures } from '../../testutils/fixtures.js';
import { Command } from 'commander';
import { register } from '../../src/cli/slow.js';
import { analyzeSlowLogs, type AnalyzeOptions, type SlowReport } from '../../src/slow/index.js';

export const FIXTURES = sharedFixtures('slowlogs');

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'onedump-slow-'));
}

export function writeLog(dir: string, name: string, text: string, gzip = false): string {
  const path = join(dir, name);
  writeFileSync(path, gzip ? gzipSync(Buffer.from(text)) : text);
  return path;
}

export interface EntrySpec {
  micros: number;
  user: string;
  ip: string;
  queryTime: number;
  lockTime: number;
  rowsSent: number;
  rowsExamined: number;
  use?: string;
  query: string;
}

export function isoMicros(micros: number): string {
  const ms = Math.floor(micros / 1000);
  return `${new Date(ms).toISOString().slice(0, -1)}${String(micros % 1000).padStart(3, '0')}Z`;
}

/** A MySQL 8 entry as the server writes it. */
export function mysqlEntry(e: EntrySpec): string {
  return (
    `# Time: ${isoMicros(e.micros)}\n` +
    `# User@Host: ${e.user}[${e.user}] @  [${e.ip}]  Id:    12\n` +
    `# Query_time: ${e.queryTime.toFixed(6)}  Lock_time: ${e.lockTime.toFixed(6)} Rows_sent: ${e.rowsSent}  Rows_examined: ${e.rowsExamined}\n` +
    (e.use ? `use ${e.use};\n` : '') +
    `SET timestamp=${Math.floor(e.micros / 1e6)};\n` +
    `${e.query};\n`
  );
}

/** A MariaDB 10.x/11.x entry (old-style time, Thread_id/Schema line, log_slow_verbosity extras). */
export function mariadbEntry(e: EntrySpec & { schema: string }): string {
  const d = new Date(Math.floor(e.micros / 1000));
  const p = (n: number) => String(n).padStart(2, '0');
  const time = `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())} ${String(d.getUTCHours()).padStart(2, ' ')}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
  return (
    `# Time: ${time}\n` +
    `# User@Host: ${e.user}[${e.user}] @ app.local [${e.ip}]\n` +
    `# Thread_id: 41  Schema: ${e.schema}  QC_hit: No\n` +
    `# Query_time: ${e.queryTime.toFixed(6)}  Lock_time: ${e.lockTime.toFixed(6)}  Rows_sent: ${e.rowsSent}  Rows_examined: ${e.rowsExamined}\n` +
    `# Rows_affected: 0  Bytes_sent: 123\n` +
    `# Full_scan: Yes  Full_join: No  Tmp_table: No  Tmp_table_on_disk: No\n` +
    `# Filesort: No  Filesort_on_disk: No  Merge_passes: 0  Priority_queue: No\n` +
    `#\n` +
    `# explain: id\tselect_type\ttable\ttype\n` +
    `# explain: 1\tSIMPLE\tt\tALL\n` +
    `#\n` +
    `SET timestamp=${Math.floor(e.micros / 1e6)};\n` +
    `${e.query};\n`
  );
}

export const MYSQL_BANNER =
  '/usr/sbin/mysqld, Version: 8.4.5 (MySQL Community Server - GPL). started with:\n' +
  'Tcp port: 3306  Unix socket: /var/run/mysqld/mysqld.sock\n' +
  'Time                 Id Command    Argument\n';

export const MARIADB_BANNER =
  '/usr/sbin/mariadbd, Version: 10.11.6-MariaDB-0+deb12u1-log (Debian 12). started with:\n' +
  'Tcp port: 3306  Unix socket: /run/mysqld/mysqld.sock\n' +
  'Time\t\t    Id Command\tArgument\n';

export function analyze(path: string, options: Partial<AnalyzeOptions> = {}): Promise<SlowReport> {
  return analyzeSlowLogs(path, { limit: 0, mask: false, sort: 'max', filter: {}, ...options });
}

/** Runs `onedump slow ARGS` through commander, capturing stdout and the exit code. */
export async function runCli(args: string[]): Promise<{ stdout: string; exitCode: number; threw?: unknown }> {
  const program = new Command('onedump').option('--json').option('--log-level <level>');
  program.exitOverride();
  program.configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  register(program);
  let stdout = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stdout.write;
  const before = process.exitCode;
  process.exitCode = undefined;
  let threw: unknown;
  try {
    await program.parseAsync(['node', 'onedump', 'slow', ...args]);
  } catch (err) {
    threw = err;
  } finally {
    process.stdout.write = write;
  }
  const exitCode = Number(process.exitCode ?? 0);
  process.exitCode = before;
  return { stdout, exitCode, threw };
}
