import type { Writable } from 'node:stream';
import type { Dumper, DumpInfo, JobContext } from './types.js';
import type { ParsedDsn } from '../config/dsn.js';
import { runToolDump } from './tool.js';
import { mysqldumpEndCheck } from './completeness.js';

/**
 * Options the job gets when it sets none: a consistent, restorable dump (one snapshot, rows streamed, routines,
 * events and triggers, binary data as hex). The job's `options` replace them, as in the Go tool.
 */
export const MYSQLDUMP_DEFAULT_OPTIONS = ['--single-transaction', '--quick', '--routines', '--events', '--triggers', '--hex-blob'];

/** mysql option-file value quoting: backslash and double quote escaped inside double quotes. */
export function optionFileValue(v: string): string {
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/**
 * The [client] section of a defaults file for every mysql-family program we run (mysqldump, mysql, mysqlbinlog): the
 * password goes here, never on the command line. Write it with createSecretFile (0600, removed even on failure).
 */
export function clientDefaults(dsn: ParsedDsn): string {
  const lines = ['[client]'];
  if (dsn.user) lines.push(`user=${optionFileValue(dsn.user)}`);
  if (dsn.password !== undefined) lines.push(`password=${optionFileValue(dsn.password)}`);
  if (dsn.socket) lines.push(`socket=${optionFileValue(dsn.socket)}`, 'protocol=SOCKET');
  else {
    // "localhost" would make the client use its default socket; the DSN meant TCP.
    lines.push(`host=${optionFileValue(dsn.host ?? '127.0.0.1')}`);
    lines.push(`port=${dsn.port ?? 3306}`);
    lines.push('protocol=TCP');
  }
  const tls = dsn.params.tls ?? dsn.params.ssl;
  if (tls === 'true' || tls === 'required') lines.push('ssl');
  return lines.join('\n') + '\n';
}

/** Runs mysqldump (or mariadb-dump) locally, or on the job's SSH host, with credentials in a 0600 defaults file. */
export class MysqldumpDumper implements Dumper {
  readonly name = 'mysqldump';
  constructor(
    private readonly dsn: ParsedDsn,
    private readonly binary = 'mysqldump',
  ) {}

  /** Arguments after --defaults-extra-file (which must come first). */
  args(job: JobContext['job']): string[] {
    const opts = job.options ?? MYSQLDUMP_DEFAULT_OPTIONS;
    const args = [...opts];
    const multi = opts.some((o) => o === '--all-databases' || o === '-A' || o.startsWith('--databases') || o === '-B');
    if (this.dsn.database && !multi) {
      for (const t of job.excludetables ?? []) args.push(`--ignore-table=${this.dsn.database}.${t}`);
      args.push(this.dsn.database);
      if (job.tables?.length) args.push(...job.tables);
    } else if (!multi) {
      args.push('--all-databases');
    }
    return args;
  }

  dump(out: Writable, ctx: JobContext): Promise<DumpInfo> {
    return runToolDump(
      {
        label: 'mysqldump',
        endCheck: mysqldumpEndCheck(ctx.job.options ?? MYSQLDUMP_DEFAULT_OPTIONS),
        unchecked: 'its options (--compact or --skip-comments) leave out the "-- Dump completed" line',
        binary: this.binary,
        secret: { kind: 'my.cnf', content: clientDefaults(this.dsn) },
        // --defaults-extra-file must come first.
        args: (cred) => [`--defaults-extra-file=${cred}`, ...this.args(ctx.job)],
      },
      out,
      ctx,
    );
  }
}
