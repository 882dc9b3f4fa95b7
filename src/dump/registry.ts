import type { Dumper } from './types.js';
import type { JobConfig } from '../config/schema.js';
import type { ParsedDsn } from '../config/dsn.js';
import { NotImplementedError } from '../util/errors.js';
import { MysqldumpDumper } from './mysqldump.js';
import { PgDumpDumper } from './pgdump.js';

/** Builds the dumper a job's `dbdriver` names. */
export function createDumper(job: JobConfig, dsn: ParsedDsn): Dumper {
  switch (job.dbdriver) {
    case 'mysqldump':
      return new MysqldumpDumper(dsn, job.driverpath ?? 'mysqldump');
    case 'postgresql':
    case 'pgdump':
      return new PgDumpDumper(dsn, job.driverpath ?? 'pg_dump');
    case 'mysql':
      throw new NotImplementedError('The native mysql dumper (dbdriver: mysql)');
  }
}
