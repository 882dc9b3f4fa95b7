import type mysql from 'mysql2/promise';
import { OnedumpError } from '../util/errors.js';

export interface BinlogStatus {
  server: string;
  flavor: 'mariadb' | 'mysql';
  logBin: boolean;
  /** The binlog being written and the next write position. */
  file?: string;
  position?: number;
  /** log_bin_basename: the binlog folder plus the file prefix. */
  basename?: string;
  dir?: string;
  prefix?: string;
  binlogs: Array<{ name: string; size: number }>;
  gtid: Record<string, string | number | null>;
}

type Row = Record<string, unknown>;

async function rows(c: mysql.Connection, sql: string): Promise<Row[]> {
  const [r] = await c.query(sql);
  return r as Row[];
}

async function variable(c: mysql.Connection, name: string): Promise<string | number | null | undefined> {
  try {
    const r = await rows(c, `SELECT @@GLOBAL.${name} AS v`);
    return (r[0]?.v as string | number | null | undefined) ?? null;
  } catch {
    return undefined; // the variable does not exist on this flavour/version
  }
}

/**
 * The server's binlog state. SHOW BINARY LOG STATUS is the MySQL ≥ 8.2 spelling (8.4 removed SHOW MASTER STATUS)
 * and MariaDB rejects it, so one is tried and then the other.
 */
export async function queryBinlogStatus(c: mysql.Connection): Promise<BinlogStatus> {
  const [info] = await rows(c, 'SELECT VERSION() AS version, @@GLOBAL.log_bin AS log_bin');
  const server = String(info?.version ?? '');
  const flavor = /mariadb/i.test(server) ? 'mariadb' : 'mysql';
  const logBin = Number(info?.log_bin) === 1 || String(info?.log_bin).toUpperCase() === 'ON';
  const status: BinlogStatus = { server, flavor, logBin, binlogs: [], gtid: {} };
  if (!logBin) return status;
  const basename = await variable(c, 'log_bin_basename');
  if (typeof basename === 'string' && basename) {
    status.basename = basename;
    const slash = basename.lastIndexOf('/');
    status.dir = slash >= 0 ? basename.slice(0, slash) || '/' : '.';
    status.prefix = basename.slice(slash + 1);
  }
  let current: Row | undefined;
  for (const sql of ['SHOW BINARY LOG STATUS', 'SHOW MASTER STATUS']) {
    try {
      current = (await rows(c, sql))[0];
      break;
    } catch (err) {
      if (sql === 'SHOW MASTER STATUS') throw new OnedumpError(`cannot read the binlog position: ${(err as Error).message}.`, { cause: err });
    }
  }
  if (current) {
    status.file = String(current.File);
    status.position = Number(current.Position);
  }
  status.binlogs = (await rows(c, 'SHOW BINARY LOGS')).map((r) => ({ name: String(r.Log_name), size: Number(r.File_size) }));
  const gtidVars =
    flavor === 'mariadb'
      ? ['gtid_current_pos', 'gtid_binlog_pos', 'gtid_slave_pos', 'gtid_strict_mode', 'gtid_domain_id']
      : ['gtid_mode', 'enforce_gtid_consistency', 'gtid_executed', 'gtid_purged'];
  for (const v of gtidVars) {
    const value = await variable(c, v);
    if (value !== undefined) status.gtid[v] = value;
  }
  return status;
}
