import type { Writable } from 'node:stream';
import type { Dumper, DumpInfo, JobContext } from './types.js';
import type { ParsedDsn } from '../config/dsn.js';
import { createSecretFile } from '../util/secret-file.js';
import { runDumpProcess } from './process.js';

/** .pgpass escaping: backslash and colon. */
function pgpassField(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
}

/** libpq environment for a DSN; the password goes in a 0600 PGPASSFILE, never in argv or PGPASSWORD. */
export function libpqEnv(dsn: ParsedDsn, passfile?: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.PGPASSWORD;
  env.PGHOST = dsn.socket ?? dsn.host ?? 'localhost';
  env.PGPORT = String(dsn.port ?? 5432);
  if (dsn.user) env.PGUSER = dsn.user;
  if (dsn.database) env.PGDATABASE = dsn.database;
  if (passfile) env.PGPASSFILE = passfile;
  const map: Record<string, string> = {
    sslmode: 'PGSSLMODE',
    sslcert: 'PGSSLCERT',
    sslkey: 'PGSSLKEY',
    sslrootcert: 'PGSSLROOTCERT',
    sslcrl: 'PGSSLCRL',
    connect_timeout: 'PGCONNECT_TIMEOUT',
    application_name: 'PGAPPNAME',
    options: 'PGOPTIONS',
  };
  for (const [k, v] of Object.entries(dsn.params)) if (map[k]) env[map[k]] = v;
  return env;
}

export function pgpassLine(dsn: ParsedDsn): string {
  return `*:*:*:${pgpassField(dsn.user || '*')}:${pgpassField(dsn.password ?? '')}\n`;
}

export class PgDumpDumper implements Dumper {
  readonly name = 'pg_dump';
  constructor(
    private readonly dsn: ParsedDsn,
    private readonly binary = 'pg_dump',
  ) {}

  args(job: JobContext['job']): string[] {
    const args = [...(job.options ?? [])];
    for (const t of job.tables ?? []) args.push(`--table=${t}`);
    for (const t of job.excludetables ?? []) args.push(`--exclude-table=${t}`);
    return args;
  }

  async dump(out: Writable, ctx: JobContext): Promise<DumpInfo> {
    const pass = this.dsn.password !== undefined ? createSecretFile('pgpass', pgpassLine(this.dsn)) : undefined;
    try {
      await runDumpProcess({
        label: this.name,
        command: this.binary,
        args: this.args(ctx.job),
        env: libpqEnv(this.dsn, pass?.path),
        signal: ctx.signal,
        out,
      });
    } finally {
      pass?.remove();
    }
    return {};
  }
}
