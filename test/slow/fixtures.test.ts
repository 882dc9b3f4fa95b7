import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze, FIXTURES, tempDir, writeLog } from './helpers.js';

describe('slow logs written by MySQL 8 (shared fixtures)', () => {
  it('reads plain and gzip copies of the same log identically', async () => {
    const plain = await analyze(join(FIXTURES, 'short/slowlog_mysql.log'));
    const gzip = await analyze(join(FIXTURES, 'short/slowlog_mysql.log.gz'));
    expect(gzip).toEqual(plain);
    expect(plain.entries).toBe(4);
    expect(plain.groups).toBe(3);
  });

  it('detects gzip by its magic bytes, not by the file name', async () => {
    const dir = tempDir();
    copyFileSync(join(FIXTURES, 'short/slowlog_mysql.log.gz'), join(dir, 'renamed.log'));
    const report = await analyze(join(dir, 'renamed.log'));
    expect(report.entries).toBe(4);
  });

  it('reproduces the Go tool README example for its sample log', async () => {
    const report = await analyze(join(FIXTURES, 'short/slowlog_mysql_duplicated.log'), { mask: true });
    expect(report.ok).toBe(true);
    expect(report.error).toBe('');
    expect(report.results).toHaveLength(1);
    expect(report.results[0]).toMatchObject({
      time: '2023-10-15T12:36:05.987654Z',
      user: 'admin[admin]',
      host_ip: '[192.168.1.101]',
      query_time: 12.890323,
      lock_time: 0.001456,
      rows_sent: 100,
      rows_examined: 100000,
      thread_id: 0,
      errno: 0,
      killed: 0,
      bytes_received: 0,
      bytes_sent: 0,
      read_first: 0,
      read_last: 0,
      read_key: 0,
      read_next: 0,
      read_prev: 0,
      read_rnd: 0,
      read_rnd_next: 0,
      sort_merge_passes: 0,
      sort_range_count: 0,
      sort_rows: 0,
      sort_scan_count: 0,
      created_tmp_disk_tables: 0,
      created_tmp_tables: 0,
      count_hit_tmp_table_size: 0,
      start: '',
      end: '',
      query: 'SELECT customer_id, COUNT(*) as order_count FROM orders GROUP BY customer_id HAVING order_count > ?',
      count: 2,
    });
  });

  it('counts a file that is not a slow log as skipped, not as an error', async () => {
    const report = await analyze(join(FIXTURES, 'invalid_query_log.log'));
    expect(report).toMatchObject({ ok: true, entries: 0, groups: 0, skipped: 1, results: [] });
  });

  it('reads the long log that starts mid-entry and ends inside one', async () => {
    const report = await analyze(join(FIXTURES, 'long/slowlog_mysql.log'));
    // 222 Query_time headers: the first entry has no "# Time:" line but is complete; the last one
    // is cut off before its statement, so it is skipped.
    expect(report.entries).toBe(221);
    expect(report.skipped).toBe(1);
    const quit = report.results.find((r) => r.fingerprint === 'administrator command: Quit');
    expect(quit?.count).toBeGreaterThan(5);
    // The start-up banner after "shutdown;" is not part of that statement.
    const shutdown = report.results.find((r) => r.query.startsWith('shutdown'));
    expect(shutdown?.query).toBe('shutdown');
    // log_slow_extra attributes of the slowest sample come through.
    const first = report.results[0]!;
    expect(first.thread_id).toBeGreaterThan(0);
    expect(first.start).toMatch(/^2025-02-24T/);
    expect(first.end).toMatch(/^2025-02-24T/);
    expect(first.bytes_received).toBeGreaterThan(0);
  });

  it('reads a folder, only the files matching --pattern', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'logs'));
    copyFileSync(join(FIXTURES, 'short/slowlog_mysql.log'), join(dir, 'logs/a-slow.log'));
    copyFileSync(join(FIXTURES, 'short/slowlog_mysql.log.gz'), join(dir, 'logs/b-slow.log.gz'));
    copyFileSync(join(FIXTURES, 'long/slowlog_single_mysql.log'), join(dir, 'logs/other.txt'));
    const matched = await analyze(join(dir, 'logs'), { pattern: '*slow.log*' });
    expect(matched.files).toBe(2);
    expect(matched.entries).toBe(8);
    const all = await analyze(join(dir, 'logs'));
    expect(all.files).toBe(3);
    expect(all.entries).toBe(9);
  });

  it('fails with a clear error for a missing file, a corrupt gzip and an empty folder', async () => {
    const dir = tempDir();
    await expect(analyze(join(dir, 'nope.log'))).rejects.toThrow(/Cannot read .*nope\.log: no such file/);
    const corrupt = writeLog(dir, 'bad.gz', '');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(corrupt, Buffer.from([0x1f, 0x8b, 0x08, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
    await expect(analyze(corrupt)).rejects.toThrow(/Cannot read .*bad\.gz/);
    mkdirSync(join(dir, 'empty'));
    await expect(analyze(join(dir, 'empty'))).rejects.toThrow(/has no files/);
  });
});
