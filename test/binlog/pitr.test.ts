import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayBinlogs } from '../../src/binlog/replay.js';
import { readDumpCoordinates } from '../../src/binlog/dump-coords.js';
import { planReplay, mysqlbinlogRuns } from '../../src/binlog/planner.js';
import { readBinlog } from '../../src/binlog/reader.js';
import { listBinlogFiles } from '../../src/binlog/files.js';
import { startMariaDB, type MariaDBInstance } from '../../testutils/mariadb.js';
import { requireBinary } from '../../testutils/binaries.js';
import { cnfFor, sql } from './helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const B = 1_800_000_000; // 2027-01-15 08:00:00 UTC; every change carries SET TIMESTAMP so seconds are distinct.

/** Row hash plus CHECKSUM TABLE: equal on two servers only when the rows are equal. */
function state(m: MariaDBInstance): string {
  const exists = sql(m, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='app' AND table_name='t'").trim();
  if (exists !== '1') return 'no table';
  const rows = sql(m, "SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS('|', id, v))), 0) FROM app.t").trim();
  const checksum = sql(m, 'CHECKSUM TABLE app.t').trim().split('\t')[1];
  return `${rows}\t${checksum}`;
}

function cli(args: string[], env: Record<string, string | undefined> = {}) {
  const r = spawnSync(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'src', 'cli', 'main.ts'), ...args], {
    env: { ...process.env, DATABASE_DSN: undefined, ...env },
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('point-in-time recovery on MariaDB', () => {
  let src: MariaDBInstance;
  let dst: MariaDBInstance;
  let binlogDir: string;
  let dumpGz: string;
  let dumpPlain: string;
  const states = new Map<string, string>();

  beforeAll(async () => {
    [src, dst] = await Promise.all([startMariaDB(), startMariaDB()]);
    binlogDir = dirname(src.binlogBase);
    sql(
      src,
      `CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(64)) ENGINE=InnoDB;
       SET TIMESTAMP=${B - 100}; INSERT INTO app.t VALUES (1,'one'),(2,'two'),(3,'three');`,
    );
    // The dump: --master-data=2 records the binlog coordinates as a comment.
    const work = mkdtempSync(join(tmpdir(), 'onedump-pitr-'));
    dumpPlain = join(work, 'app.sql');
    const dump = execFileSync(requireBinary('mariadb-dump'), [`--defaults-extra-file=${cnfFor(src)}`, '--master-data=2', '--single-transaction', '--databases', 'app'], {
      maxBuffer: 1 << 28,
    });
    writeFileSync(dumpPlain, dump);
    dumpGz = join(work, 'app.sql.gz');
    writeFileSync(dumpGz, gzipSync(dump));
    states.set('dump', state(src));
    const step = (name: string, text: string) => {
      sql(src, text);
      states.set(name, state(src));
    };
    step('s1', `SET TIMESTAMP=${B + 10}; INSERT INTO app.t VALUES (4,'four');`);
    // One transaction spanning 20..30: its statements carry 20 and 25, its GTID and commit carry 30.
    step(
      's2',
      `SET TIMESTAMP=${B + 20}; BEGIN; UPDATE app.t SET v='TWO' WHERE id=2; SET TIMESTAMP=${B + 25}; INSERT INTO app.t VALUES (5,'five'); SET TIMESTAMP=${B + 30}; COMMIT;`,
    );
    sql(src, `SET TIMESTAMP=${B + 31}; FLUSH BINARY LOGS;`);
    step('s3', `SET TIMESTAMP=${B + 40}; DELETE FROM app.t WHERE id=1;`);
    sql(src, `SET TIMESTAMP=${B + 45}; FLUSH BINARY LOGS;`);
    step('s4', `SET TIMESTAMP=${B + 60}; UPDATE app.t SET v=CONCAT(v, '!');`);
    step('s5', `SET TIMESTAMP=${B + 70}; INSERT INTO app.t SELECT seq + 100, CONCAT('bulk', seq) FROM app.seq_1_to_2000;`);
    sql(src, `SET TIMESTAMP=${B + 75}; FLUSH BINARY LOGS;`);
    step('s6', `SET TIMESTAMP=${B + 80}; DELETE FROM app.t WHERE id > 1500;`);
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled([src?.stop(), dst?.stop()]);
  });

  /** Fresh target: drop the database, load the dump. */
  function loadDump() {
    sql(dst, 'DROP DATABASE IF EXISTS app;');
    sql(dst, readFileSync(dumpPlain, 'utf8'));
    expect(state(dst)).toBe(states.get('dump'));
  }

  const cases: Array<[string, number, string]> = [
    ['in the middle of the first file', B + 15, 's1'],
    ['inside a transaction\'s time span (commit time decides)', B + 27, 's1'],
    ['exactly at a commit (exclusive)', B + 30, 's1'],
    ['in a later file', B + 41, 's3'],
    ['between two files', B + 50, 's3'],
    ['two files later', B + 65, 's4'],
    ['in the last file', B + 79, 's5'],
  ];

  it('the states differ at every step (so the comparison can fail)', () => {
    expect(new Set(states.values()).size).toBe(states.size);
  });

  for (const [what, T, expected] of cases) {
    it(`reproduces the state at T ${what}`, async () => {
      loadDump();
      const coords = await readDumpCoordinates(dumpGz);
      const r = await replayBinlogs({ dir: binlogDir, startFile: coords.file, startPos: coords.pos, stopDatetime: T, dsn: dst.dsn() });
      expect(r.applied).toBe(true);
      expect(state(dst)).toBe(states.get(expected));
    });
  }

  it('replays everything when T is after the last event, in runs of at most N files', async () => {
    loadDump();
    const coords = await readDumpCoordinates(dumpPlain);
    const r = await replayBinlogs({ dir: binlogDir, startFile: coords.file, startPos: coords.pos, stopDatetime: B + 10_000, dsn: dst.dsn(), maxFilesPerRun: 1 });
    expect(r.runs.length).toBe(r.plan.files.length);
    expect(r.plan.files.length).toBeGreaterThanOrEqual(4);
    expect(r.plan.notes.join(' ')).toMatch(/replaying everything/);
    expect(state(dst)).toBe(states.get('s6'));
  });

  it('the CLI (Go flags, DATABASE_DSN, the Go form of the time read as UTC whatever the process time zone) reproduces the state at T', () => {
    loadDump();
    // B + 65 is 2027-01-15 08:01:05 UTC (13:31:05 in Asia/Kolkata, the process's zone here).
    const r = cli(['binlog', 'restore', '--dir', binlogDir, '--dump-file', dumpGz, '--stop-datetime', '2027-01-15 08:01:05'], {
      DATABASE_DSN: dst.dsn(),
      TZ: 'Asia/Kolkata',
    });
    expect(r.stderr).not.toContain(dst.password);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^replayed \d+ events from mysql-bin\.\d+:\d+, through .*; stopped before mysql-bin\.\d+:\d+\.\n$/);
    expect(state(dst)).toBe(states.get('s4'));
  });

  it('--dry-run prints the SQL and applies nothing', () => {
    loadDump();
    const r = cli(['binlog', 'restore', '--dir', binlogDir, '--dump-file', dumpPlain, '--stop-datetime', '2027-01-15T08:00:41Z', '--dry-run'], { TZ: 'UTC' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('DELIMITER /*!*/;');
    expect(r.stdout).toMatch(/^#270115  8:00:40 server id 1 .*Delete_rows/m);
    expect(r.stdout).not.toMatch(/^#270115  8:01:00 server id/m);
    expect(state(dst)).toBe(states.get('dump'));
  });

  it('the mysql side\'s error is reported when applying fails', async () => {
    sql(dst, 'DROP DATABASE IF EXISTS app;');
    const coords = await readDumpCoordinates(dumpPlain);
    await expect(replayBinlogs({ dir: binlogDir, startFile: coords.file, startPos: coords.pos, stopDatetime: B + 15, dsn: dst.dsn() })).rejects.toThrow(
      /^mysql failed while applying the binlogs \(exit 1\): ERROR 1146 \(42S02\) at line \d+: Table 'app\.t' doesn't exist$/,
    );
  });

  it('the plan replays exactly what mysqlbinlog --stop-datetime would, for every second around every event', async () => {
    const coords = await readDumpCoordinates(dumpPlain);
    const files = (await listBinlogFiles(binlogDir)).filter((f) => f.name >= coords.file);
    const times = new Set<number>();
    for (const [i, f] of files.entries()) for await (const e of readBinlog(f.path, { start: i === 0 ? coords.pos : 4 })) times.add(e.timestamp);
    const mysqlbinlog = requireBinary('mysqlbinlog');
    const run = (args: string[]) => execFileSync(mysqlbinlog, args, { env: { ...process.env, TZ: 'UTC' }, maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    // What is replayed: every event position and statement.
    const body = (s: string) => s.split('\n').filter((l) => /^(# at |SET TIMESTAMP|BINLOG|COMMIT|BEGIN|[A-Za-z0-9+/=]{20,}$)/.test(l)).join('\n');
    let compared = 0;
    let refused = 0;
    let empty = 0;
    // The dump's last change (B - 100) and the seconds around it, and around every event after the dump.
    for (const T of [...times, B - 100].flatMap((t) => [t - 1, t, t + 1])) {
      let plan;
      try {
        plan = await planReplay({ dir: binlogDir, startFile: coords.file, startPos: coords.pos, stopDatetime: T });
      } catch (err) {
        // The dump holds a change from T or later (its INSERT at B - 100): refused.
        expect((err as Error).message).toMatch(/is before the starting point: it already holds a change from/);
        expect(T).toBeLessThanOrEqual(B - 100);
        refused++;
        continue;
      }
      const when = new Date(T * 1000).toISOString().slice(0, 19).replace('T', ' ');
      const theirs = run([`--start-position=${coords.pos}`, `--stop-datetime=${when}`, ...files.map((f) => f.path)]);
      if (plan.files.length === 0) {
        // Nothing to replay: mysqlbinlog prints only the first file's format description (at 4), no event from the start on.
        expect(T).toBeGreaterThan(B - 100);
        expect(body(theirs).match(/^# at \d+$/gm), `T=${when}`).toEqual(['# at 4']);
        empty++;
        continue;
      }
      const runs = mysqlbinlogRuns(plan, 1000);
      const ours = runs.length ? run(runs[0] as string[]) : '';
      expect(body(ours), `T=${when}`).toBe(body(theirs));
      compared++;
    }
    expect(compared).toBeGreaterThan(10);
    expect(refused).toBeGreaterThanOrEqual(2);
    expect(empty).toBeGreaterThanOrEqual(2);
  });
});
