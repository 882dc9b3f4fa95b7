import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDumpCoordinates } from '../../src/binlog/dump-coords.js';
import { readBinlog } from '../../src/binlog/reader.js';
import { listBinlogFiles } from '../../src/binlog/files.js';
import { settleBinlogs, startMariaDB, type MariaDBInstance } from '../../testutils/mariadb.js';
import { runCli } from '../../testutils/cli.js';
import { sql } from './helpers.js';

// Issue 15: `restore --binlogs --until T` with T after the dump's snapshot but before the next binlog event is the
// dump's own state (nothing to replay); only a T before the snapshot is refused, and then the target is untouched.
// Real clock time throughout (no SET TIMESTAMP): the dump is taken seconds after its last change, and the next
// change comes seconds after the dump.

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const nowS = () => Math.floor(Date.now() / 1000);
/** Sleeps past the start of the next whole second and `extra` ms more, so the next event has a later timestamp. */
const nextSecond = (extra = 1100) => sleep(1000 - (Date.now() % 1000) + extra);
const utc = (t: number) => new Date(t * 1000).toISOString().slice(0, 19).replace('T', ' ');
const iso = (t: number) => `${utc(t)}Z`;

/** Row count, a hash of every row and CHECKSUM TABLE of each table of `app`: equal only when the rows are equal. */
function state(m: MariaDBInstance): string {
  const tables = sql(m, "SELECT table_name FROM information_schema.tables WHERE table_schema='app' ORDER BY 1").trim();
  if (!tables) return 'no app tables';
  return tables
    .split('\n')
    .map((t) => {
      const rows = sql(m, `SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS('|', id, v, n))), 0) FROM app.\`${t}\``).trim();
      const checksum = sql(m, `CHECKSUM TABLE app.\`${t}\``).trim().split('\t')[1];
      return `${t}:${rows}:${checksum}`;
    })
    .join(' ');
}

/** Random rows, so the states compared are not hand-picked. */
function rows(from: number, count: number): string {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const v = Array.from({ length: 1 + Math.floor(Math.random() * 40) }, () => 'abcdefghij\'"\\ é中'[Math.floor(Math.random() * 15)]).join('');
    out.push(`(${from + i}, '${v.replace(/\\/g, '\\\\').replace(/'/g, "''")}', ${Math.floor(Math.random() * 1e9) - 5e8})`);
  }
  return out.join(',');
}

describe('point-in-time restore right after a backup (issue 15)', () => {
  let src: MariaDBInstance;
  let dst: MariaDBInstance;
  let binlogDir: string;
  let dump: string;
  let lastChange: number; // the timestamp of the dump's newest change (before its binlog position)
  let nextEvent: number; // the timestamp of the first event after the dump's position
  let dumpEnded: number;
  let lastEvent: number; // the timestamp of the last event of the last binlog
  const states = new Map<string, string>();

  beforeAll(async () => {
    [src, dst] = await Promise.all([startMariaDB(), startMariaDB()]);
    binlogDir = dirname(src.binlogBase);
    sql(
      src,
      `CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(64), n INT) ENGINE=InnoDB;
       CREATE TABLE app.u (id INT PRIMARY KEY, v TEXT, n BIGINT) ENGINE=InnoDB;
       INSERT INTO app.t VALUES ${rows(1, 50 + Math.floor(Math.random() * 100))}; INSERT INTO app.u VALUES ${rows(1, 20)};`,
    );
    await nextSecond();
    // The last change before the dump, then the dump (native, one-off form) a couple of seconds later.
    sql(src, `UPDATE app.t SET n = n + 1 WHERE id % 3 = 0; INSERT INTO app.u VALUES ${rows(1000, 5)};`);
    await nextSecond(1200);
    dump = join(mkdtempSync(join(tmpdir(), 'onedump-pitr-snap-')), 'app.sql.gz');
    const d = await runCli(['dump', '--dsn', '-', '--to', dump, '--gzip'], { env: { ONEDUMP_DSN: src.dsn('app') } });
    expect(d.code, d.stderr).toBe(0);
    dumpEnded = nowS();
    states.set('dump', state(src));
    await nextSecond(1500);
    sql(src, `DELETE FROM app.t WHERE id % 2 = 0; INSERT INTO app.t VALUES ${rows(5000, 30)};`);
    states.set('after1', state(src));
    await nextSecond();
    sql(src, `FLUSH BINARY LOGS; UPDATE app.u SET v = CONCAT(v, '!');`);
    states.set('after2', state(src));

    // The instants that matter, from the binlogs themselves.
    const coords = await readDumpCoordinates(dump);
    const files = (await listBinlogFiles(binlogDir)).filter((f) => f.name >= coords.file);
    lastChange = 0;
    nextEvent = 0;
    for (const [i, f] of files.entries()) {
      for await (const e of readBinlog(f.path)) {
        if (i === 0 && e.pos < coords.pos) {
          if (['Query', 'Xid', 'Gtid', 'Write_rows', 'Update_rows', 'Delete_rows', 'Table_map', 'Annotate_rows'].includes(e.typeName)) lastChange = Math.max(lastChange, e.timestamp);
        } else if (!nextEvent) nextEvent = e.timestamp;
        lastEvent = e.timestamp;
      }
    }
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled([src?.stop(), dst?.stop()]);
  });

  const restore = (until: string, extra: string[] = []) =>
    runCli(['restore', '--from', dump, '--dsn', '-', '--binlogs', binlogDir, '--until', until, ...extra], { env: { ONEDUMP_RESTORE_DSN: dst.dsn('app'), TZ: 'Europe/Paris' } });

  it('the instants and states are as the test needs (the comparisons can fail)', () => {
    expect(lastChange).toBeGreaterThan(0);
    expect(dumpEnded - lastChange).toBeGreaterThanOrEqual(2);
    expect(nextEvent - dumpEnded).toBeGreaterThanOrEqual(1);
    expect(new Set(states.values()).size).toBe(states.size);
  });

  it('an instant between the snapshot and the next event restores the dump exactly and replays nothing', async () => {
    // Right after the last change, around the dump, and the next event's own second (exclusive).
    const instants = [...new Set([lastChange + 1, dumpEnded, dumpEnded + 1, nextEvent - 1, nextEvent])].filter((t) => t > lastChange && t <= nextEvent);
    expect(instants.length).toBeGreaterThanOrEqual(3);
    for (const t of instants) {
      sql(dst, 'DROP DATABASE IF EXISTS app;');
      const r = await restore(iso(t));
      expect(r.code, `${iso(t)}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/^Nothing to replay from mysql-bin\.\d+:\d+: the stop time .* is before the first event after the starting point .*nothing to replay\.$/m);
      expect(state(dst), iso(t)).toBe(states.get('dump'));
    }
  }, 180_000);

  it('one second after the next event, that event is replayed (replay still works)', async () => {
    sql(dst, 'DROP DATABASE IF EXISTS app;');
    const r = await restore(iso(nextEvent + 1));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Replayed \d+ binlog events from mysql-bin\.\d+:\d+ until /m);
    expect(state(dst)).toBe(states.get('after1'));
    // And a local time (this command's bare form; the child runs in Europe/Paris) at the end of the last event's
    // second: everything is replayed.
    sql(dst, 'DROP DATABASE IF EXISTS app;');
    const paris = (t: number) => new Date(t * 1000).toLocaleString('sv-SE', { timeZone: 'Europe/Paris' });
    const all = await restore(paris(lastEvent + 1));
    expect(all.code, all.stderr).toBe(0);
    expect(state(dst)).toBe(states.get('after2'));
    // Later than that the binlogs do not say what the state was (issue 17): refused with the window, target untouched.
    const later = await restore(paris(nowS() + 3600));
    expect(later.code).toBe(1);
    expect(later.stderr).toMatch(/^onedump: the stop time .* is outside what these binlogs can restore to: from the dump's snapshot \(mysql-bin\.\d+:\d+\) up to .* \(mysql-bin\.\d+ at \d+\); restore to an instant in that window \(at most .*\), or ship newer binlogs first \(binlog sync\)\.$/m);
    expect(state(dst)).toBe(states.get('after2'));
  }, 120_000);

  it('a missing binlog splits the window: an instant before the gap restores, one after it is refused before anything runs (issue 17)', async () => {
    // Two more binlog files with changes (later than every instant the other tests restore to), then a copy of the
    // binlog folder without the file after the dump's own.
    sql(src, 'FLUSH BINARY LOGS; UPDATE app.u SET n = n + 1; FLUSH BINARY LOGS; UPDATE app.t SET n = n - 1;');
    await settleBinlogs(() => src.connect());
    const coords = await readDumpCoordinates(dump);
    const files = (await listBinlogFiles(binlogDir)).filter((f) => f.name >= coords.file);
    expect(files.length).toBeGreaterThanOrEqual(3);
    let newest = 0;
    for await (const e of readBinlog(files[files.length - 1]!.path)) newest = Math.max(newest, e.timestamp);
    const gapped = mkdtempSync(join(tmpdir(), 'onedump-pitr-gap-'));
    for (const f of files) if (f !== files[1]) copyFileSync(f.path, join(gapped, f.name));
    const restoreFrom = (dir: string, until: string, extra: string[] = []) =>
      runCli(['restore', '--from', dump, '--dsn', '-', '--binlogs', dir, '--until', until, ...extra], { env: { ONEDUMP_RESTORE_DSN: dst.dsn('app'), TZ: 'Europe/Paris' } });
    sql(dst, 'DROP DATABASE IF EXISTS app;');
    const before = await restoreFrom(gapped, iso(nextEvent + 1));
    expect(before.code, before.stderr).toBe(0);
    expect(state(dst)).toBe(states.get('after1'));
    const after = await restoreFrom(gapped, iso(newest + 1));
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(new RegExp(`outside what these binlogs can restore to: .*, after which ${files[0]!.name.replace('.', '\\.')} is followed by ${files[2]!.name.replace('.', '\\.')}: the binlogs between them are missing; .*, or add the missing binlogs\\.`));
    // Refused before the dump was loaded: the target still holds the earlier restore.
    expect(state(dst)).toBe(states.get('after1'));
  }, 120_000);

  it('an instant before the snapshot is refused with one sentence, exit 1, and the target untouched', async () => {
    // A target with other contents; nothing of it may change.
    sql(dst, `DROP DATABASE IF EXISTS app; CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(64), n INT); INSERT INTO app.t VALUES ${rows(1, 7)};`);
    const before = state(dst);
    const dbs = sql(dst, 'SHOW DATABASES').trim();
    // A dry run plans the replay of a local folder too, and refuses the same way.
    const dry = await restore(iso(lastChange), ['--dry-run']);
    expect(dry.code).toBe(1);
    expect(dry.stderr).toMatch(/^onedump: the stop time .* is before the starting point: /m);
    const dryOk = await restore(iso(dumpEnded + 1), ['--dry-run']);
    expect(dryOk.code, dryOk.stderr).toBe(0);
    expect(dryOk.stdout).toMatch(/^ {2}then: {3}replay binlogs in .* from mysql-bin\.\d+:\d+ until .* \(nothing to replay: the stop time .*\)$/m);
    for (const t of [lastChange, lastChange - 1, lastChange - 30]) {
      const r = await restore(iso(t));
      expect(r.code, iso(t)).toBe(1);
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('onedump:'));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^onedump: the stop time .* is before the starting point: it already holds a change from .* \(.* in mysql-bin\.\d+ at \d+, before the start mysql-bin\.\d+:\d+\), so use an older dump\.$/);
      expect(r.stderr).not.toContain(dst.password);
      expect(r.stdout).not.toMatch(/Restored/);
      expect(state(dst)).toBe(before);
      expect(sql(dst, 'SHOW DATABASES').trim()).toBe(dbs);
    }
  }, 120_000);

  it('binlog restore --stop-datetime (the Go form, UTC) follows the same rule after the dump is loaded', async () => {
    sql(dst, 'DROP DATABASE IF EXISTS app;');
    const load = await runCli(['restore', '--from', dump, '--dsn', '-'], { env: { ONEDUMP_RESTORE_DSN: dst.dsn('app') } });
    expect(load.code, load.stderr).toBe(0);
    expect(state(dst)).toBe(states.get('dump'));
    const env = { DATABASE_DSN: dst.dsn(), TZ: 'Australia/Sydney' };
    const between = await runCli(['binlog', 'restore', '-d', binlogDir, '--dump-file', dump, '--stop-datetime', utc(dumpEnded + 1)], { env });
    expect(between.code, between.stderr).toBe(0);
    expect(between.stdout).toMatch(/^nothing replayed: the stop time .* nothing to replay\.\n$/);
    expect(state(dst)).toBe(states.get('dump'));
    const early = await runCli(['binlog', 'restore', '-d', binlogDir, '--dump-file', dump, '--stop-datetime', utc(lastChange)], { env });
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/^onedump: the stop time .* is before the starting point: .*, so use an older dump\.$/m);
    expect(state(dst)).toBe(states.get('dump'));
    const later = await runCli(['binlog', 'restore', '-d', binlogDir, '--dump-file', dump, '--stop-datetime', utc(nextEvent + 1)], { env });
    expect(later.code, later.stderr).toBe(0);
    expect(state(dst)).toBe(states.get('after1'));
  }, 120_000);
});
