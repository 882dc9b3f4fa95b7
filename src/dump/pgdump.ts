import type { Writable } from 'node:stream';
import type { Dumper, DumpInfo, JobContext } from './types.js';
import type { ParsedDsn } from '../config/dsn.js';
import { runToolDump } from './tool.js';
import { pgDumpEndCheck } from './completeness.js';

/** .pgpass escaping: backslash and colon. */
function pgpassField(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
}

/** libpq environment for a DSN; the password goes in a 0600 PGPASSFILE, never in argv or PGPASSWORD. */
export function libpqEnv(dsn: ParsedDsn, passfile?: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...libpqVars(dsn, passfile) };
  delete env.PGPASSWORD;
  return env;
}

/** Only the PG* variables for a DSN (no secrets: the password is in the passfile). */
export function libpqVars(dsn: ParsedDsn, passfile?: string): Record<string, string> {
  const env: Record<string, string> = {};
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
    sslcompression: 'PGSSLCOMPRESSION',
    sslsni: 'PGSSLSNI',
    sslcrldir: 'PGSSLCRLDIR',
    ssl_min_protocol_version: 'PGSSLMINPROTOCOLVERSION',
    ssl_max_protocol_version: 'PGSSLMAXPROTOCOLVERSION',
    gssencmode: 'PGGSSENCMODE',
    target_session_attrs: 'PGTARGETSESSIONATTRS',
  };
  for (const [k, v] of Object.entries(dsn.params)) if (map[k]) env[map[k]] = v;
  return env;
}

export function pgpassLine(dsn: ParsedDsn): string {
  return `*:*:*:${pgpassField(dsn.user || '*')}:${pgpassField(dsn.password ?? '')}\n`;
}

/** pg_dump locally or on the job's SSH host; the password goes in a 0600 passfile (PGPASSFILE), never argv or env. */
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

  dump(out: Writable, ctx: JobContext): Promise<DumpInfo> {
    return runToolDump(
      {
        label: 'pg_dump',
        endCheck: pgDumpEndCheck(ctx.job.options ?? []),
        unchecked: 'the custom and directory formats have no end marker',
        binary: this.binary,
        secret: this.dsn.password !== undefined ? { kind: 'pgpass', content: pgpassLine(this.dsn) } : undefined,
        args: () => this.args(ctx.job),
        env: (cred) => libpqEnv(this.dsn, cred),
        remoteEnv: (cred) => libpqVars(this.dsn, cred),
      },
      out,
      ctx,
    );
  }
}
