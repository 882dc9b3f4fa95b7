import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { planReplay, mysqlbinlogRuns, type ReplayPlan } from '../../src/binlog/planner.js';
import { parseStopDatetime } from '../../src/binlog/datetime.js';
import { binlogsFrom } from '../../src/binlog/files.js';
import { FIXTURES } from './helpers.js';

const Z = (s: string) => parseStopDatetime(`${s}Z`);

describe('replay planner on the MySQL 8.4 fixtures', () => {
  it('stops in the middle of a file, before the first event at or after the stop time', async () => {
    const plan = await planReplay({ dir: FIXTURES, startFile: 'mysql-bin.000003', startPos: 1638, stopDatetime: Z('2025-06-03 01:00:40') });
    expect(plan.files.map((f) => [f.name, f.start, f.stop])).toEqual([['mysql-bin.000003', 1638, 1857]]);
    expect(plan.stop).toMatchObject({ file: 'mysql-bin.000003', pos: 1857, reason: 'datetime', timestamp: 1748912443 });
    expect(plan.events).toBe(2);
    expect(mysqlbinlogRuns(plan)).toEqual([['--start-position=1638', '--stop-position=1857', join(FIXTURES, 'mysql-bin.000003')]]);
  });

  it('an event exactly at the stop time is not replayed (exclusive, as mysqlbinlog)', async () => {
    const plan = await planReplay({ dir: FIXTURES, startFile: 'mysql-bin.000003', startPos: 1638, stopDatetime: 1748912443 });
    expect(plan.stop?.pos).toBe(1857);
    const after = await planReplay({ dir: FIXTURES, startFile: 'mysql-bin.000003', startPos: 1638, stopDatetime: 1748912444 });
    expect(after.stop).toBeUndefined();
  });

  it('stops in a later file, replaying the earlier ones whole', async () => {
    const plan = await planReplay({ dir: FIXTURES, startFile: 'mysql-bin.000002', stopDatetime: Z('2025-06-03 01:00:40') });
    expect(plan.files.map((f) => [f.name, f.start, f.stop])).toEqual([
      ['mysql-bin.000002', 4, undefined],
      ['mysql-bin.000003', 4, 1857],
    ]);
    expect(mysqlbinlogRuns(plan)).toEqual([['--stop-position=1857', join(FIXTURES, 'mysql-bin.000002'), join(FIXTURES, 'mysql-bin.000003')]]);
  });

  it('a time between two files (after one file\'s last event, before the next file\'s first) ends with the earlier file', async () => {
    // mysql-bin.000002 ends with a Stop event at 00:58:50; mysql-bin.000003 starts at 00:58:52 (a server restart).
    const plan = await planReplay({ dir: FIXTURES, startFile: 'mysql-bin.000002', stopDatetime: Z('2025-06-03 00:58:51') });
    expect(plan.files.map((f) => [f.name, f.stop])).toEqual([['mysql-bin.000002', undefined]]);
    expect(plan.stop).toMatchObject({ file: 'mysql-bin.000003', pos: 4, type: 'Format_desc' });
    expect(plan.last).toMatchObject({ file: 'mysql-bin.000002', pos: 2984558, type: 'Stop' });
    expect(mysqlbinlogRuns(plan)).toEqual([[join(FIXTURES, 'mysql-bin.000002')]]);
  });

  it('a stop time after the starting point but before the next event: nothing to replay (the starting point is the state then)', async () => {
    // init-db.sql.gz was taken at mysql-bin.000003:1638: its last change is the Query at 1551 (00:58:53), the next event
    // is at 1638 (01:00:38). Every second in between, and 01:00:38 itself (exclusive), is the dump's own state.
    for (const t of ['2025-06-03 00:58:54', '2025-06-03 01:00:00', '2025-06-03 01:00:37', '2025-06-03 01:00:38']) {
      const plan = await planReplay({ dir: FIXTURES, startFile: 'mysql-bin.000003', startPos: 1638, stopDatetime: Z(t) });
      expect(plan.files, t).toEqual([]);
      expect(plan.events).toBe(0);
      expect(mysqlbinlogRuns(plan)).toEqual([]);
      expect(plan.stop).toMatchObject({ file: 'mysql-bin.000003', pos: 1638, reason: 'datetime' });
      expect(plan.notes.join(' ')).toMatch(/^the stop time .* is before the first event after the starting point \(mysql-bin\.000003 at 1638, .*\) and after the last change before it \(.*\): the starting point is the state at that time, so there is nothing to replay\.$/);
    }
    // One second later the first event after the dump is replayed.
    const next = await planReplay({ dir: FIXTURES, startFile: 'mysql-bin.000003', startPos: 1638, stopDatetime: Z('2025-06-03 01:00:39') });
    expect(next.files.map((f) => [f.name, f.start, f.stop])).toEqual([['mysql-bin.000003', 1638, 1857]]);
  });

  it('a stop time at or before the last change the starting point holds is refused: the dump is newer than that', async () => {
    for (const t of ['2025-06-03 00:58:53', '2025-06-03 00:30:00', '2025-06-03 00:00:00']) {
      await expect(planReplay({ dir: FIXTURES, startFile: 'mysql-bin.000003', startPos: 1638, stopDatetime: Z(t) }), t).rejects.toThrow(
        /^the stop time 2025-06-03 .* is before the starting point: it already holds a change from .* \(Query in mysql-bin\.000003 at 1551, before the start mysql-bin\.000003:1638\), so use an older dump\.$/,
      );
    }
  });

  it('starting at the top of a file, the binlog before it tells whether the start is past the stop time', async () => {
    // mysql-bin.000003 was opened at 00:58:52; mysql-bin.000002's last change is its Xid at 00:58:49.
    for (const startPos of [4, 0]) {
      const plan = await planReplay({ dir: FIXTURES, startFile: 'mysql-bin.000003', startPos, stopDatetime: Z('2025-06-03 00:58:52') });
      expect(plan.files).toEqual([]);
      expect(plan.start.pos).toBe(4);
      expect(plan.notes.join(' ')).toMatch(/nothing to replay/);
    }
    await expect(planReplay({ dir: FIXTURES, startFile: 'mysql-bin.000003', startPos: 4, stopDatetime: Z('2025-06-03 00:58:49') })).rejects.toThrow(
      /^the stop time .* is before the starting point: it already holds a change from .* \(Xid in mysql-bin\.000002 at 2984527, before the start mysql-bin\.000003:4\), so use an older dump\.$/,
    );
    // Without the binlog before, it cannot be told.
    const alone = mkdtempSync(join(tmpdir(), 'onedump-binlogs-'));
    symlinkSync(join(FIXTURES, 'mysql-bin.000003'), join(alone, 'mysql-bin.000003'));
    await expect(planReplay({ dir: alone, startFile: 'mysql-bin.000003', stopDatetime: Z('2025-06-03 00:58:52') })).rejects.toThrow(
      `the stop time 2025-06-03 00:58:52+00:00 is before mysql-bin.000003 began (2025-06-03 00:58:52+00:00) and the binlog before it is not in ${alone}, so whether the starting point mysql-bin.000003:4 is already past that time cannot be told; add that binlog, or use an older dump.`,
    );
    // A stop time after the file was opened needs nothing before it.
    const later = await planReplay({ dir: alone, startFile: 'mysql-bin.000003', stopDatetime: Z('2025-06-03 00:58:53') });
    expect(later.files.map((f) => [f.name, f.stop])).toEqual([['mysql-bin.000003', 158]]);
  });

  it('start position 0 is the start of the file (the Go tool\'s default); 1 to 3 are refused', async () => {
    const zero = await planReplay({ dir: FIXTURES, startFile: 'mysql-bin.000003', startPos: 0 });
    const four = await planReplay({ dir: FIXTURES, startFile: 'mysql-bin.000003', startPos: 4 });
    expect(zero).toEqual(four);
    expect(mysqlbinlogRuns(zero)).toEqual([[join(FIXTURES, 'mysql-bin.000003')]]);
    for (const p of [1, 2, 3]) {
      await expect(planReplay({ dir: FIXTURES, startFile: 'mysql-bin.000003', startPos: p })).rejects.toThrow(
        `the start position must be 0 (the start of the file) or a whole number of at least 4 (got ${p}).`,
      );
    }
  });

  it('a stop time after the last event replays everything and says so', async () => {
    const plan = await planReplay({ dir: FIXTURES, startFile: 'mysql-bin.000002', stopDatetime: Z('2030-01-01 00:00:00') });
    expect(plan.stop).toBeUndefined();
    expect(plan.files.map((f) => f.name)).toEqual(['mysql-bin.000002', 'mysql-bin.000003']);
    expect(plan.notes[0]).toMatch(/^the stop time 2030-01-01 .* is after the last event \(mysql-bin\.000003 at 2522, .*\); replaying everything\.$/);
  });

  it('--stop-position: in the last file, or FILE:POS; must be an event boundary', async () => {
    const last = await planReplay({ dir: FIXTURES, startFile: 'mysql-bin.000002', stopPosition: { pos: 1638 } });
    expect(last.files.map((f) => [f.name, f.stop])).toEqual([
      ['mysql-bin.000002', undefined],
      ['mysql-bin.000003', 1638],
    ]);
    const inFile = await planReplay({ dir: FIXTURES, startFile: 'mysql-bin.000001', stopPosition: { file: 'mysql-bin.000002', pos: 2984474 } });
    expect(inFile.files.map((f) => [f.name, f.stop])).toEqual([
      ['mysql-bin.000001', undefined],
      ['mysql-bin.000002', 2984474],
    ]);
    await expect(planReplay({ dir: FIXTURES, startFile: 'mysql-bin.000003', stopPosition: { pos: 1700 } })).rejects.toThrow(
      'the stop position 1700 is not an event boundary in mysql-bin.000003 (events start at 1638 and 1715).',
    );
    await expect(planReplay({ dir: FIXTURES, startFile: 'mysql-bin.000003', stopPosition: { pos: 99999 } })).rejects.toThrow(
      'the stop position 99999 is past the end of mysql-bin.000003 (2609 bytes).',
    );
  });

  it('a start position inside an event is refused', async () => {
    await expect(planReplay({ dir: FIXTURES, startFile: 'mysql-bin.000003', startPos: 1640 })).rejects.toThrow(/mysql-bin\.000003: position 1640 is not an event boundary/);
  });
});

describe('binlog folder', () => {
  const dirs: string[] = [];
  afterEach(() => void dirs.splice(0));
  const folder = (names: string[]) => {
    const d = mkdtempSync(join(tmpdir(), 'onedump-binlogs-'));
    dirs.push(d);
    for (const n of names) symlinkSync(join(FIXTURES, 'mysql-bin.000001'), join(d, n));
    return d;
  };

  it('orders files numerically, skips the .index and other files', async () => {
    const d = folder(['mysql-bin.000009', 'mysql-bin.000010', 'mysql-bin.000011']);
    writeFileSync(join(d, 'mysql-bin.index'), 'x');
    writeFileSync(join(d, 'notes.txt'), 'x');
    writeFileSync(join(d, 'mysql-bin.000010.partial'), 'x');
    expect((await binlogsFrom(d, 'mysql-bin.000009')).map((f) => f.name)).toEqual(['mysql-bin.000009', 'mysql-bin.000010', 'mysql-bin.000011']);
    const many = folder(['b.9', 'b.10', 'b.100', 'b.11']);
    await expect(binlogsFrom(many, 'b.9')).rejects.toThrow(`binlog files are missing from ${many} between b.11 and b.100; replaying across the gap would lose changes.`);
  });

  it('no binlogs, a missing start binlog and a bad name are clear errors', async () => {
    const empty = folder([]);
    await expect(binlogsFrom(empty, 'mysql-bin.000001')).rejects.toThrow(`no binlog files (name.NNNNNN) were found in ${empty}.`);
    const d = folder(['mysql-bin.000003', 'mysql-bin.000004']);
    await expect(binlogsFrom(d, 'mysql-bin.000001')).rejects.toThrow(`the start binlog mysql-bin.000001 is not in ${d} (it has mysql-bin.000003 to mysql-bin.000004).`);
    await expect(binlogsFrom('/nonexistent/binlogs', 'mysql-bin.000001')).rejects.toThrow('the binlog folder /nonexistent/binlogs does not exist.');
  });
});

describe('mysqlbinlog runs', () => {
  it('chunks of at most 10 files, start position on the first run, stop position on the last', () => {
    const files = Array.from({ length: 25 }, (_, i) => ({ name: `b.${i + 1}`, path: `/d/b.${i + 1}`, start: i === 0 ? 700 : 4, stop: i === 24 ? 900 : undefined }));
    const plan: ReplayPlan = { files, start: { file: 'b.1', pos: 700 }, events: 1, notes: [] };
    const runs = mysqlbinlogRuns(plan);
    expect(runs.map((r) => r.filter((a) => !a.startsWith('--')).length)).toEqual([10, 10, 5]);
    expect(runs[0]?.[0]).toBe('--start-position=700');
    expect(runs[1]?.some((a) => a.startsWith('--'))).toBe(false);
    expect(runs[2]?.[0]).toBe('--stop-position=900');
    expect(runs.flat().filter((a) => !a.startsWith('--'))).toEqual(files.map((f) => f.path));
  });
});

describe('stop datetime parsing', () => {
  const tz = process.env.TZ;
  afterEach(() => {
    process.env.TZ = tz;
  });

  it('reads a time without offset in the local time zone, as mysqlbinlog does', () => {
    process.env.TZ = 'Asia/Kolkata';
    expect(parseStopDatetime('2026-11-28 14:05:00')).toBe(Date.UTC(2026, 10, 28, 8, 35, 0) / 1000);
    process.env.TZ = 'America/New_York';
    expect(parseStopDatetime('2026-07-01 12:00:00')).toBe(Date.UTC(2026, 6, 1, 16, 0, 0) / 1000);
  });

  it('with { bare: "utc" } (binlog restore, as the Go tool) a time without offset is UTC in any process time zone', () => {
    for (const zone of ['Australia/Sydney', 'America/New_York', 'UTC', 'Asia/Kolkata']) {
      process.env.TZ = zone;
      expect(parseStopDatetime('2025-06-03 01:00:43', { bare: 'utc' }), zone).toBe(Date.UTC(2025, 5, 3, 1, 0, 43) / 1000);
      expect(parseStopDatetime('2025-06-03 11:00:43+10:00', { bare: 'utc' }), zone).toBe(Date.UTC(2025, 5, 3, 1, 0, 43) / 1000);
      expect(() => parseStopDatetime('2025-02-29 01:00:00', { bare: 'utc' })).toThrow('"2025-02-29 01:00:00" is not a valid date.');
    }
    expect(() => parseStopDatetime('now', { bare: 'utc' })).toThrow(/use YYYY-MM-DD HH:MM:SS \(UTC\)/);
  });

  it('honours Z and ±hh:mm, and rejects nonsense', () => {
    process.env.TZ = 'Asia/Kolkata';
    expect(parseStopDatetime('2026-11-28T14:05:00Z')).toBe(Date.UTC(2026, 10, 28, 14, 5, 0) / 1000);
    expect(parseStopDatetime('2026-11-28 14:05:00+01:00')).toBe(Date.UTC(2026, 10, 28, 13, 5, 0) / 1000);
    expect(parseStopDatetime('2026-11-28 14:05:00-0230')).toBe(Date.UTC(2026, 10, 28, 16, 35, 0) / 1000);
    expect(() => parseStopDatetime('yesterday')).toThrow(/"yesterday" is not a date-time; use YYYY-MM-DD HH:MM:SS/);
    expect(() => parseStopDatetime('2026-02-30 10:00:00')).toThrow('"2026-02-30 10:00:00" is not a valid date.');
    expect(() => parseStopDatetime('2026-11-28 14:05:00.5Z')).toThrow(/fractions of a second/);
  });
});
