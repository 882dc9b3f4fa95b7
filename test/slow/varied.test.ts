import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { compare, type Pt } from '../../bench/slow-compare.js';
import { analyze, tempDir } from './helpers.js';

// The varied generator (bench/gen-slowlog-varied.mjs) with a fixed seed: MySQL 8, MariaDB and
// Percona headers, multi-line statements with comments, IN lists and multi-row INSERTs of 10-100 KB,
// escapes, raw control bytes and invalid UTF-8 in literals, administrator commands, restart banners.
// Needs pt-query-digest (apt-get install -y percona-toolkit); without it the test fails.
const GENERATOR = join(import.meta.dirname, '../../bench/gen-slowlog-varied.mjs');

describe('a varied log (three servers, big statements, raw bytes)', () => {
  it('agrees with pt-query-digest per fingerprint except its known defects, the same with two threads', async () => {
    const dir = tempDir();
    const file = join(dir, 'varied.log');
    execFileSync('node', [GENERATOR, file, '2', '11']);
    const text = readFileSync(file, 'latin1');
    // The shapes the log is meant to hold are there.
    const shapes = [
      /^# Thread_id: \d+ {2}Schema: \w+ {2}QC_hit: No$/m,
      /^# explain: 1\tSIMPLE/m,
      /^# Schema: \w+ {2}Last_errno: 0/m,
      /^# Log_slow_rate_type: query {2}Log_slow_rate_limit: 10$/m,
      /^# {3}InnoDB_IO_r_ops: /m,
      /^# administrator command: /m,
      /Count_hit_tmp_table_size: 0 {2}Start: /,
      /^\/usr\/sbin\/mysqld, Version: .*started with:$/m,
      /[\x80-\xff]/,
      // eslint-disable-next-line no-control-regex -- raw control bytes in literals are what is checked
      /[\x00-\x08]/,
      /IN \((?:\d+, ?){2000,}/,
      /^# filter on \w+$/m,
    ];
    for (const shape of shapes) expect(shape.test(text), String(shape)).toBe(true);

    const ours = await analyze(file, { mask: true });
    const twoThreads = await analyze(file, { mask: true, threads: 2, partBytes: 256 << 10 });
    expect(twoThreads).toEqual(ours);

    const { stdout } = await promisify(execFile)('pt-query-digest', ['--output', 'json', '--limit', '100%:100000', file], {
      maxBuffer: 1 << 30,
    });
    const pt = JSON.parse(stdout) as Pt;
    const result = compare(ours, pt);
    expect(result.ok, result.lines.join('\n')).toBe(true);
    // The same entries are counted; a few dozen classes are pt-query-digest's defects (doubled quotes,
    // upper-case hex, escaped backslashes before a quote, comments inside strings).
    const ptEntries = pt.classes.reduce((n, c) => n + c.query_count, 0);
    expect(ours.entries).toBe(ptEntries);
    expect(ours.skipped).toBe(0);
    expect(result.defects).toBeGreaterThan(5);
    expect(ours.groups).toBeGreaterThan(500);
  }, 120_000);
});
