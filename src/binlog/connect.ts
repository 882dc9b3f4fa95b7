import type mysql from 'mysql2/promise';
import type { ParsedDsn } from '../config/dsn.js';
import { describeDsn } from '../config/dsn.js';
import { OnedumpError } from '../util/errors.js';

/** One connection to a MySQL/MariaDB server from a parsed DSN; connection errors become one sentence. */
export async function connectMysql(dsn: ParsedDsn, opts: { multipleStatements?: boolean } = {}): Promise<mysql.Connection> {
  if (dsn.engine !== 'mysql') throw new OnedumpError('this command needs a MySQL or MariaDB DSN, not a PostgreSQL one.', { exitCode: 2 });
  try {
    const { createConnection } = await import('mysql2/promise');
    return await createConnection({
      host: dsn.socket ? undefined : dsn.host,
      port: dsn.socket ? undefined : dsn.port,
      socketPath: dsn.socket,
      user: dsn.user,
      password: dsn.password,
      database: dsn.database,
      multipleStatements: opts.multipleStatements ?? false,
      connectTimeout: 15_000,
    });
  } catch (err) {
    throw new OnedumpError(`cannot connect to ${describeDsn(dsn)}: ${(err as Error).message}.`, { cause: err });
  }
}
