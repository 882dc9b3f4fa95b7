import type { Dumper } from './types.js';
import type { JobConfig } from '../config/schema.js';
import type { ParsedDsn } from '../config/dsn.js';
import { MysqldumpDumper } from './mysqldump.js';
import { PgDumpDumper } from './pgdump.js';
import { NativeMysqlDumper } from './mysql-native/dumper.js';
import { parseNativeOptions } from './mysql-native/options.js';
import { ConfigError } from '../util/errors.js';

/**
 * Builds the dumper a job's `dbdriver` names. Runs before any job starts, so everything that can be checked
 * without a network (options, SSH settings) fails here with exit 2.
 */
export function createDumper(job: JobConfig, dsn: ParsedDsn): Dumper {
  const where = `jobs "${job.name}".options`;
  if (job.sshhost && (!job.sshuser || !job.sshkey)) {
    throw new ConfigError([`job "${job.name}": sshhost needs sshuser and sshkey too`]);
  }
  switch (job.dbdriver) {
    case 'mysqldump':
      if (dsn.engine !== 'mysql') throw new ConfigError([`job "${job.name}": dbdriver mysqldump needs a MySQL DSN, not a PostgreSQL one`]);
      return new MysqldumpDumper(dsn, job.driverpath ?? 'mysqldump');
    case 'postgresql':
    case 'pgdump':
      if (dsn.engine !== 'postgres') throw new ConfigError([`job "${job.name}": dbdriver ${job.dbdriver} needs a postgres:// DSN`]);
      return new PgDumpDumper(dsn, job.driverpath ?? 'pg_dump');
    case 'mysql':
      if (dsn.engine !== 'mysql') throw new ConfigError([`job "${job.name}": dbdriver mysql needs a MySQL DSN, not a PostgreSQL one`]);
      return new NativeMysqlDumper(dsn, parseNativeOptions(job.options, where));
  }
}
