import type { Writable } from 'node:stream';
import type { Dumper, DumpInfo, JobContext } from './types.js';
import type { ParsedDsn } from '../config/dsn.js';
import { createSecretFile } from '../util/secret-file.js';
import { runDumpProcess } from './process.js';
import { classifyToolError } from './classify.js';
import { remoteDumpCommand, runRemoteDump } from './remote.js';

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

/** libpq variables for a remote run: everything libpqEnv sets except the inherited environment. */
function remoteEnv(dsn: ParsedDsn): Record<string, string> {
  return libpqVars(dsn, '{CRED}');
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

  async dump(out: Writable, ctx: JobContext): Promise<DumpInfo> {
    const label = 'pg_dump';
    try {
      if (ctx.job.sshhost) {
        await runRemoteDump({
          job: ctx.job,
          log: ctx.log,
          label,
          tool: this.binary,
          command: remoteDumpCommand(this.binary, this.args(ctx.job), remoteEnv(this.dsn)),
          secret: pgpassLine(this.dsn),
          out,
          signal: ctx.signal,
        });
        return {};
      }
      const pass = this.dsn.password !== undefined ? createSecretFile('pgpass', pgpassLine(this.dsn)) : undefined;
      try {
        await runDumpProcess({ label, command: this.binary, args: this.args(ctx.job), env: libpqEnv(this.dsn, pass?.path), signal: ctx.signal, out });
      } finally {
        pass?.remove();
      }
    } catch (err) {
      throw classifyToolError(err, ctx.job.name);
    }
    return {};
  }
}
