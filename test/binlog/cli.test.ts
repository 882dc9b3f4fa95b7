import { mkdtempSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES } from './helpers.js';
import { runCliSync } from '../../testutils/cli.js';

function cli(args: string[], env: Record<string, string | undefined> = {}) {
  return runCliSync(args, { DATABASE_DSN: undefined, TZ: 'UTC', ...env });
}

const work = mkdtempSync(join(tmpdir(), 'onedump-cli-'));
const emptyDir = mkdtempSync(join(tmpdir(), 'onedump-cli-empty-'));
const truncDir = mkdtempSync(join(tmpdir(), 'onedump-cli-trunc-'));
copyFileSync(join(FIXTURES, 'mysql-bin.000002'), join(truncDir, 'mysql-bin.000002'));
writeFileSync(join(truncDir, 'mysql-bin.000003'), readFileSync(join(FIXTURES, 'mysql-bin.000003')).subarray(0, 1100));
const notDump = join(work, 'notes.sql');
writeFileSync(notDump, 'SELECT 1;\nCREATE TABLE x (id int);\n');

describe('binlog CLI: every bad input is one sentence and a non-zero exit', () => {
  const cases: Array<[string, string[], number, RegExp]> = [
    ['no binlogs in the folder', ['binlog', 'restore', '--dir', emptyDir, '--start-binlog', 'mysql-bin.000001', '--dry-run'], 2, /^onedump: no binlog files \(name\.NNNNNN\) were found in .*\.$/],
    ['the start binlog is missing', ['binlog', 'restore', '--dir', FIXTURES, '--start-binlog', 'mysql-bin.000007', '--dry-run'], 2, /^onedump: the start binlog mysql-bin\.000007 is not in .* \(it has mysql-bin\.000001 to mysql-bin\.000003\)\.$/],
    ['a dump file without coordinates', ['binlog', 'restore', '--dir', FIXTURES, '--dump-file', notDump, '--dry-run'], 2, /^onedump: the dump file .*notes\.sql records no binlog coordinates .*\.$/],
    ['a truncated binlog', ['binlog', 'restore', '--dir', truncDir, '--start-binlog', 'mysql-bin.000002', '--dry-run'], 1, /^onedump: mysql-bin\.000003: the file is truncated or corrupt: the Query event needs 248 bytes but only 111 remain at offset 989\.$/],
    ['a stop time before the dump\'s snapshot', ['binlog', 'restore', '--dir', FIXTURES, '--dump-file', join(FIXTURES, 'init-db.sql.gz'), '--stop-datetime', '2025-06-03 00:00:00', '--dry-run'], 1, /^onedump: the stop time 2025-06-03 00:00:00\+00:00 is before the starting point: it already holds a change from 2025-06-03 00:58:53\+00:00 \(Query in mysql-bin\.000003 at 1551, before the start mysql-bin\.000003:1638\), so use an older dump\.$/],
    ['a start position of 1 to 3', ['binlog', 'restore', '--dir', FIXTURES, '--start-binlog', 'mysql-bin.000003', '--start-position', '2', '--dry-run'], 2, /^onedump: the start position must be 0 \(the start of the file\) or a whole number of at least 4 \(got 2\)\.$/],
    ['--dry-run with a value that is not a boolean', ['binlog', 'restore', '--dir', FIXTURES, '--start-binlog', 'mysql-bin.000003', '--dry-run=maybe'], 2, /^onedump: --dry-run takes true or false \(got "maybe"\)\.$/],
    ['mysqlbinlog missing', ['binlog', 'restore', '--dir', FIXTURES, '--start-binlog', 'mysql-bin.000003', '--dry-run', '--mysqlbinlog-path', '/nonexistent/mysqlbinlog'], 2, /^onedump: mysqlbinlog was not found at \/nonexistent\/mysqlbinlog \(or is not executable\); check --mysqlbinlog-path\.$/],
    ['no DSN to replay into', ['binlog', 'restore', '--dir', FIXTURES, '--start-binlog', 'mysql-bin.000003'], 2, /^onedump: no database to replay into: give --dsn or set DATABASE_DSN\.$/],
    ['a bad stop time', ['binlog', 'restore', '--dir', FIXTURES, '--start-binlog', 'mysql-bin.000003', '--stop-datetime', 'tomorrow', '--dry-run'], 2, /^onedump: "tomorrow" is not a date-time; use YYYY-MM-DD HH:MM:SS/],
    ['a start position inside an event', ['binlog', 'restore', '--dir', FIXTURES, '--start-binlog', 'mysql-bin.000003', '--start-position', '1640', '--dry-run'], 1, /^onedump: mysql-bin\.000003: position 1640 is not an event boundary/],
    ['a missing events path', ['binlog', 'events', '/nonexistent/mysql-bin.000001'], 2, /^onedump: \/nonexistent\/mysql-bin\.000001 does not exist\.$/],
  ];
  for (const [what, args, code, re] of cases) {
    it(what, () => {
      const r = cli(args);
      expect(r.code, r.stderr).toBe(code);
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('onedump:'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(re);
    });
  }

  it('a stop time after the last event says "replaying everything" and prints all the SQL in a dry run', () => {
    const r = cli(['binlog', 'restore', '--dir', FIXTURES, '--dump-file', join(FIXTURES, 'init-db.sql.gz'), '--stop-datetime', '2030-01-01 00:00:00', '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/replaying everything/);
    expect(r.stdout).toContain('# at 2522');
    expect(r.stdout).not.toContain('# at 1551\n');
  });

  it('binlog events lists a folder as JSON lines', () => {
    const r = cli(['binlog', 'events', FIXTURES, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.length).toBe(3 + 14194 + 23);
    expect(lines[0]).toMatchObject({ file: 'mysql-bin.000001', pos: 4, end_log_pos: 127, type: 'Format_desc', timestamp: 1748912322 });
  });
});

describe('binlog restore: the Go tool\'s invocations', () => {
  const sydney = { TZ: 'Australia/Sydney' };
  /** The `# at N` lines of a dry run's SQL: what would be replayed. */
  const ats = (out: string) => [...out.matchAll(/^# at (\d+)$/gm)].map((m) => Number(m[1]));

  it('-d DIR --start-binlog --start-position 0 --stop-datetime "YYYY-MM-DD HH:MM:SS" (UTC) --dry-run=true stops at 1857, in any time zone', () => {
    // Go's own test: start mysql-bin.000002 at 0, stop "2025-06-03 01:00:43" → stop position 1857 in mysql-bin.000003.
    for (const env of [sydney, { TZ: 'America/Los_Angeles' }, { TZ: 'UTC' }]) {
      const r = cli(['binlog', 'restore', '-d', FIXTURES, '--start-binlog', 'mysql-bin.000002', '--start-position', '0', '--stop-datetime', '2025-06-03 01:00:43', '--dry-run=true', '--log-format', 'json'], env);
      expect(r.code, r.stderr).toBe(0);
      const summary = r.stderr.split('\n').filter((l) => l.includes('"dry run: the SQL above was not applied"')).map((l) => JSON.parse(l) as { start: string; stop: string; files: string[] });
      expect(summary, env.TZ).toHaveLength(1);
      expect(summary[0]).toMatchObject({ start: 'mysql-bin.000002:4', stop: 'mysql-bin.000003:1857', files: ['mysql-bin.000002', 'mysql-bin.000003'] });
      const at = ats(r.stdout);
      expect(at).toContain(1715);
      expect(at).not.toContain(1857);
    }
  });

  it('the same instant with an explicit offset gives the same stop; --dry-run=false needs a database', () => {
    const r = cli(['binlog', 'restore', '--dir', FIXTURES, '--start-binlog', 'mysql-bin.000003', '--stop-datetime', '2025-06-03 11:00:43+10:00', '--dry-run', '--json'], sydney);
    expect(r.code, r.stderr).toBe(0);
    expect(ats(r.stdout)).toEqual(expect.arrayContaining([1638, 1715]));
    expect(ats(r.stdout)).not.toContain(1857);
    const wet = cli(['binlog', 'restore', '--dir', FIXTURES, '--start-binlog', 'mysql-bin.000003', '--dry-run=false'], sydney);
    expect(wet.code).toBe(2);
    expect(wet.stderr).toMatch(/^onedump: no database to replay into: give --dsn or set DATABASE_DSN\.$/m);
  });

  it('--dump-file with a stop time between the dump and the next event: nothing to replay, exit 0', () => {
    const r = cli(['binlog', 'restore', '--dir=' + FIXTURES, '--dump-file=' + join(FIXTURES, 'init-db.sql.gz'), '--stop-datetime', '2025-06-03 01:00:00', '--dry-run=true'], sydney);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/the stop time 2025-06-03 11:00:00\+10:00 is before the first event after the starting point \(mysql-bin\.000003 at 1638, 2025-06-03 11:00:38\+10:00\).*nothing to replay/);
  });

  it('--help says which zone each form of --stop-datetime is in', () => {
    const r = cli(['binlog', 'restore', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout.replace(/\s+/g, ' ')).toMatch(/"YYYY-MM-DD HH:MM:SS" is UTC \(as in the Go tool\); "…Z" is UTC; "…\+hh:mm" \/ "…-hh:mm" is that offset/);
    expect(r.stdout).toMatch(/-d, --dir <dir>/);
  });
});
