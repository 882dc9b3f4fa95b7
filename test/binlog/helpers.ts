import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinary } from '../../testutils/binaries.js';
import type { MariaDBInstance } from '../../testutils/mariadb.js';

import { existsSync } from 'node:fs';

/** ../shared/fixtures next to the checkout (/work/main → /work/shared); ONEDUMP_FIXTURES overrides, /work/shared is the fallback for worktrees. */
export const FIXTURES = (() => {
  const candidates = [
    process.env.ONEDUMP_FIXTURES,
    join(import.meta.dirname, '..', '..', '..', 'shared', 'fixtures'),
    '/work/shared/fixtures',
  ].filter((x): x is string => Boolean(x));
  const found = candidates.find((c) => existsSync(join(c, 'mysql84', 'mysql-bin.000001')));
  if (!found) throw new Error(`the MySQL 8.4 fixtures are missing (looked in ${candidates.join(', ')}); set ONEDUMP_FIXTURES`);
  return join(found, 'mysql84');
})();

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
