import { execFileSync } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readZoneinfo, timeZoneSql } from '../../src/tz/load.js';
import { requireBinary } from '../../testutils/binaries.js';
import { startMariaDB, type MariaDBInstance } from '../../testutils/mariadb.js';
import { sql } from './helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');

describe('tz load', () => {
  it('reads the same zones, transitions and types as mariadb-tzinfo-to-sql', async () => {
    const ref = execFileSync(requireBinary('mariadb-tzinfo-to-sql'), ['/usr/share/zoneinfo'], { maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
    const theirs = new Map<string, { leap: string; rows: { tr: string[]; ty: string[] } }>();
    let cur: { leap: string; rows: { tr: string[]; ty: string[] } } | undefined;
    let mode: 'tr' | 'ty' = 'tr';
    for (const line of ref.split('\n')) {
      let m;
      if ((m = /^INSERT INTO time_zone \(Use_leap_seconds\) VALUES \('(.)'\)/.exec(line))) cur = { leap: m[1] as string, rows: { tr: [], ty: [] } };
      else if ((m = /^INSERT INTO time_zone_name \(Name, Time_zone_id\) VALUES \('(.*)', @time_zone_id\)/.exec(line))) theirs.set(m[1] as string, cur!);
      else if (line.startsWith('INSERT INTO time_zone_transition_type')) mode = 'ty';
      else if (line.startsWith('INSERT INTO time_zone_transition ')) mode = 'tr';
      else if ((m = /^[ ,]\(@time_zone_id, (.*)\)$/.exec(line))) cur!.rows[mode].push(m[1] as string);
    }
    const ours = await readZoneinfo();
    expect(theirs.size).toBeGreaterThan(300);
    expect(ours.map((z) => z.name).sort()).toEqual([...theirs.keys()].sort());
    for (const { name, zone } of ours) {
      const t = theirs.get(name)!;
      expect(zone.leapCount ? 'Y' : 'N', name).toBe(t.leap);
      expect(zone.transitions.map((x) => `${x.at}, ${x.type}`), name).toEqual(t.rows.tr);
      expect(zone.types.map((x, k) => `${k}, ${x.offset}, ${x.isDst ? 1 : 0}, '${x.abbr}'`), name).toEqual(t.rows.ty);
    }
  });

  describe('into a server', () => {
    let m: MariaDBInstance;
    beforeAll(async () => {
      m = await startMariaDB();
    }, 120_000);
    afterAll(async () => {
      await m?.stop();
    });

    it('fills mysql.time_zone* so CONVERT_TZ works (and --dry-run prints SQL only)', () => {
      sql(m, 'TRUNCATE mysql.time_zone_name;');
      expect(sql(m, "SELECT CONVERT_TZ('2026-07-01 12:00:00','UTC','Europe/Paris')").trim()).toBe('NULL');
      const tsx = join(ROOT, 'node_modules', '.bin', 'tsx');
      const dry = spawnSync(tsx, [join(ROOT, 'src/cli/main.ts'), 'tz', 'load', '--dry-run'], { encoding: 'utf8', maxBuffer: 1 << 28 });
      expect(dry.status, dry.stderr).toBe(0);
      expect(dry.stdout).toMatch(/^TRUNCATE TABLE mysql\.time_zone;\n/);
      expect(dry.stdout).toContain("('Europe/Paris',");
      expect(sql(m, "SELECT CONVERT_TZ('2026-07-01 12:00:00','UTC','Europe/Paris')").trim()).toBe('NULL');
      const r = spawnSync(tsx, [join(ROOT, 'src/cli/main.ts'), 'tz', 'load', '--dsn', m.dsn()], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^loaded \d+ time zones from \/usr\/share\/zoneinfo\.\n$/);
      expect(sql(m, "SELECT CONVERT_TZ('2026-07-01 12:00:00','UTC','Europe/Paris'), CONVERT_TZ('2026-01-01 12:00:00','UTC','America/New_York')").trim()).toBe(
        '2026-07-01 14:00:00\t2026-01-01 07:00:00',
      );
    });
  });

  it('the generated SQL batches rows', async () => {
    const zones = (await readZoneinfo()).filter((z) => z.name === 'Europe/Paris' || z.name === 'UTC');
    const stmts = [...timeZoneSql(zones)];
    expect(stmts.slice(0, 4)).toEqual(['mysql.time_zone', 'mysql.time_zone_name', 'mysql.time_zone_transition', 'mysql.time_zone_transition_type'].map((t) => `TRUNCATE TABLE ${t}`));
    expect(stmts[4]).toBe("INSERT INTO mysql.time_zone (Time_zone_id, Use_leap_seconds) VALUES (1,'N'),(2,'N')");
  });
});
