import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze, FIXTURES, mysqlEntry, runCli, tempDir, writeLog } from './helpers.js';

const short = join(FIXTURES, 'short/slowlog_mysql.log');

describe('onedump slow (commander)', () => {
  it('prints the JSON report for a positional path and for the Go-tool -f form alike', async () => {
    const a = await runCli([short, '--format', 'json']);
    const b = await runCli(['-f', short, '--format', 'json']);
    expect(a.exitCode).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    const doc = JSON.parse(a.stdout);
    expect(doc).toMatchObject({ ok: true, error: '', entries: 4, groups: 3, skipped: 0 });
    // Default sort is by the slowest single run, as the Go tool sorted.
    expect(doc.results.map((r: { query_time_max: number }) => r.query_time_max)).toEqual([9.123456, 7.890123, 3.456789]);
  });

  it('--json forces JSON; -l limits; --sort count ranks by count', async () => {
    const { stdout } = await runCli(['--json', short, '-l', '1', '--sort', 'count']);
    const doc = JSON.parse(stdout);
    expect(doc.results).toHaveLength(1);
    expect(doc.results[0].count).toBe(2);
  });

  it('-m false keeps literal values in the sample, the default masks them', async () => {
    const masked = JSON.parse((await runCli([short, '--json', '--sort', 'count', '-l', '1'])).stdout);
    const raw = JSON.parse((await runCli([short, '--json', '--sort', 'count', '-l', '1', '-m', 'false'])).stdout);
    expect(masked.results[0].query).toMatch(/> \?$/);
    expect(raw.results[0].query).toMatch(/> 10$/);
  });

  it('prints a table with a header line when asked', async () => {
    const { stdout, exitCode } = await runCli([short, '--format', 'table']);
    expect(exitCode).toBe(0);
    expect(stdout.split('\n')[0]).toMatch(
      /^# 4 entries, 3 groups, 0 skipped; 2023-10-15T12:34:56\.123456Z .. 2023-10-15T12:36:05\.987654Z; total query time 20\.47s$/,
    );
    expect(stdout).toMatch(/rank\s+id\s+count\s+total/);
  });

  it('exits 1 with {"ok":false} JSON for a missing file', async () => {
    const { stdout, exitCode } = await runCli([join(tempDir(), 'missing.log'), '--json']);
    expect(exitCode).toBe(1);
    const doc = JSON.parse(stdout);
    expect(doc.ok).toBe(false);
    expect(doc.error).toMatch(/^Cannot read .*missing\.log: no such file or folder; check the path/);
  });

  it('exits 2 for an unknown --sort value or no path at all', async () => {
    const bad = await runCli([short, '--sort', 'fastest', '--json']);
    expect(bad.exitCode).toBe(2);
    expect(JSON.parse(bad.stdout).ok).toBe(false);
    const none = await runCli(['--json']);
    expect(none.exitCode).toBe(2);
  });

  it('takes -j/--threads auto or a number, the same report either way; anything else is bad usage', async () => {
    const auto = await runCli([short, '--json']);
    for (const args of [['-j', '2'], ['--threads', 'auto'], ['-j', '1'], ['--threads=0']]) {
      const run = await runCli([short, '--json', ...args]);
      expect(run.exitCode, args.join(' ')).toBe(0);
      expect(run.stdout).toBe(auto.stdout);
    }
    const bad = await runCli([short, '--json', '-j', 'many']);
    expect(bad.exitCode).toBe(2);
    expect(JSON.parse(bad.stdout).error).toMatch(/expected auto or a whole number/);
  });
});

describe('JSON output of a large report', () => {
  it('is written in pieces, byte for byte what JSON.stringify gives', async () => {
    const dir = tempDir();
    // 2,000 groups whose samples hold 1 KB of text each, and non-Latin-1 text: more than one 1 MiB piece of JSON.
    let body = '';
    for (let i = 0; i < 2000; i++) {
      const name = Array.from(String(i), (d) => 'abcdefghij'[Number(d)]).join('');
      body += mysqlEntry({
        micros: 1_700_000_000_000_000 + i,
        user: 'app',
        ip: '10.0.0.1',
        queryTime: 0.5,
        lockTime: 0,
        rowsSent: 1,
        rowsExamined: 1,
        query: `SELECT col_${name} FROM t WHERE a = '${'日本'.repeat(200)}' AND b = ${i}`,
      });
    }
    const file = writeLog(dir, 'big.log', body);
    const { stdout, exitCode } = await runCli([file, '--format', 'json']);
    expect(exitCode).toBe(0);
    expect(stdout.length).toBeGreaterThan(1 << 20);
    const report = await analyze(file, { mask: true });
    expect(report.groups).toBe(2000);
    expect(stdout).toBe(`${JSON.stringify(report)}\n`);
  });
});
