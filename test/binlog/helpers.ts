import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinary } from '../../testutils/binaries.js';
import type { MariaDBInstance } from '../../testutils/mariadb.js';

import { sharedFixtures } from '../../testutils/fixtures.js';

/** The MySQL 8.4 binlogs and dump in test/fixtures/mysql84 (see testutils/fixtures.ts). */
export const FIXTURES = sharedFixtures('mysql84');

export interface ListedEvent {
  pos: number;
  logPos: number;
  timestamp: number;
  serverId: number;
}

/** mysqlbinlog's `# at N` and `#YYMMDD HH:MM:SS server id S end_log_pos E` lines for one file, read in UTC. */
export function mysqlbinlogListing(file: string, extra: string[] = []): ListedEvent[] {
  const out = execFileSync(requireBinary('mysqlbinlog'), [...extra, file], { env: { ...process.env, TZ: 'UTC' }, maxBuffer: 1 << 30 }).toString();
  const ats: number[] = [];
  const heads: Array<Omit<ListedEvent, 'pos'>> = [];
  for (const line of out.split('\n')) {
    const at = /^# at (\d+)$/.exec(line);
    if (at) {
      ats.push(Number(at[1]));
      continue;
    }
    const h = /^#(\d{2})(\d{2})(\d{2})\s+(\d{1,2}):(\d{2}):(\d{2}) server id (\d+)\s+end_log_pos (\d+)/.exec(line);
    if (h) {
      const [y, mo, d, H, M, S] = h.slice(1, 7).map(Number) as [number, number, number, number, number, number];
      heads.push({ timestamp: Date.UTC(2000 + y, mo - 1, d, H, M, S) / 1000, serverId: Number(h[7]), logPos: Number(h[8]) });
    }
  }
  if (ats.length !== heads.length) throw new Error(`mysqlbinlog listing of ${file}: ${ats.length} "# at" lines but ${heads.length} headers`);
  // MariaDB prints Annotate_rows and its Table_map under two consecutive "# at" lines; order is still file order.
  return ats.map((pos, i) => ({ pos, ...(heads[i] as Omit<ListedEvent, 'pos'>) }));
}

/** Runs SQL through the mariadb client with credentials in an option file (as the code under test does). */
export function sql(m: MariaDBInstance, text: string, db = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'onedump-test-cnf-'));
  const cnf = join(dir, 'c.cnf');
  writeFileSync(cnf, `[client]\nuser=root\npassword="${m.password}"\nsocket=${m.socket}\n`, { mode: 0o600 });
  return execFileSync(requireBinary('mariadb'), [`--defaults-extra-file=${cnf}`, '--batch', '--skip-column-names', ...(db ? [db] : [])], {
    input: text,
    maxBuffer: 1 << 28,
  }).toString();
}

export function cnfFor(m: MariaDBInstance): string {
  const dir = mkdtempSync(join(tmpdir(), 'onedump-test-cnf-'));
  const cnf = join(dir, 'c.cnf');
  writeFileSync(cnf, `[client]\nuser=root\npassword="${m.password}"\nsocket=${m.socket}\n`, { mode: 0o600 });
  return cnf;
}
