import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { OnedumpError } from '../util/errors.js';
import { isTzif, parseTzif, type TzZone } from './tzif.js';

export const DEFAULT_ZONEINFO = '/usr/share/zoneinfo';

/** Every zone under a zoneinfo folder (recursively, as mysql_tzinfo_to_sql scans it), sorted by name. */
export async function readZoneinfo(dir = DEFAULT_ZONEINFO): Promise<Array<{ name: string; zone: TzZone }>> {
  const out: Array<{ name: string; zone: TzZone }> = [];
  async function walk(rel: string): Promise<void> {
    const abs = join(dir, rel);
    let names: string[];
    try {
      names = await readdir(abs);
    } catch (err) {
      if (rel === '') throw new OnedumpError(`cannot read the zoneinfo folder ${dir} (${(err as NodeJS.ErrnoException).code}); install tzdata.`);
      return;
    }
    for (const n of names.sort()) {
      // "Factory" is a placeholder zone (abbreviation "-00"); mysql_tzinfo_to_sql leaves it out, and so do we.
      if (n.startsWith('.') || n === 'Factory') continue;
      const r = rel ? `${rel}/${n}` : n;
      const st = await stat(join(dir, r)).catch(() => undefined);
      if (!st) continue;
      if (st.isDirectory()) await walk(r);
      else if (st.isFile()) {
        const buf = await readFile(join(dir, r));
        if (!isTzif(buf)) continue; // zone.tab, tzdata.zi, leapseconds…
        try {
          out.push({ name: r, zone: parseTzif(buf) });
        } catch {
          /* a damaged zone file is skipped, as mysql_tzinfo_to_sql does */
        }
      }
    }
  }
  await walk('');
  if (out.length === 0) throw new OnedumpError(`no time zone files were found in ${dir}; install tzdata.`);
  out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return out;
}

const ROWS_PER_INSERT = 1000;

/**
 * SQL statements that replace the contents of mysql.time_zone* with the given zones (what mysql_tzinfo_to_sql
 * prints), with explicit ids so statements can be batched without LAST_INSERT_ID.
 */
export function* timeZoneSql(zones: Array<{ name: string; zone: TzZone }>): Generator<string> {
  for (const t of ['time_zone', 'time_zone_name', 'time_zone_transition', 'time_zone_transition_type']) yield `TRUNCATE TABLE mysql.${t}`;
  const q = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
  const batch = function* (head: string, rows: string[]): Generator<string> {
    for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) yield `${head} VALUES ${rows.slice(i, i + ROWS_PER_INSERT).join(',')}`;
  };
  const tz: string[] = [];
  const names: string[] = [];
  const trans: string[] = [];
  const types: string[] = [];
  zones.forEach(({ name, zone }, i) => {
    const id = i + 1;
    tz.push(`(${id},'${zone.leapCount ? 'Y' : 'N'}')`);
    names.push(`(${q(name)},${id})`);
    for (const t of zone.transitions) trans.push(`(${id},${t.at},${t.type})`);
    zone.types.forEach((t, k) => types.push(`(${id},${k},${t.offset},${t.isDst ? 1 : 0},${q(t.abbr)})`));
  });
  yield* batch('INSERT INTO mysql.time_zone (Time_zone_id, Use_leap_seconds)', tz);
  yield* batch('INSERT INTO mysql.time_zone_name (Name, Time_zone_id)', names);
  yield* batch('INSERT INTO mysql.time_zone_transition (Time_zone_id, Transition_time, Transition_type_id)', trans);
  yield* batch('INSERT INTO mysql.time_zone_transition_type (Time_zone_id, Transition_type_id, `Offset`, Is_DST, Abbreviation)', types);
}
