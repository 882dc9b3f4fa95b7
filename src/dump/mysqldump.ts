import type { Writable } from 'node:stream';
import type { Dumper, DumpInfo, JobContext } from './types.js';
import type { ParsedDsn } from '../config/dsn.js';
import { createSecretFile } from '../util/secret-file.js';
import { runDumpProcess } from './process.js';

/** Options the job gets when it sets none: a consistent, restorable dump. The job's `options` replace them. */
export const MYSQLDUMP_DEFAULT_OPTIONS = ['--single-transaction', '--quick', '--routines', '--events', '--triggers', '--hex-blob'];

/** mysql option-file value quoting: backslash and double quote escaped inside double quotes. */
export function optionFileValue(v: string): string {
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/** The [client] section of a defaults file: the password goes here, never on the command line. */
export function clientDefaults(dsn: ParsedDsn): string {
  const lines = ['[client]'];
  if (dsn.user) lines.push(`user=${optionFileValue(dsn.user)}`);
  if (dsn.password !== undefined) lines.push(`password=${optionFileValue(dsn.password)}`);
  if (dsn.socket) lines.push(`socket=${optionFileValue(dsn.socket)}`);
  else {
    lines.push(`host=${optionFileValue(dsn.host ?? '127.0.0.1')}`);
    lines.push(`port=${dsn.port ?? 3306}`);
    lines.push('protocol=TCP');
  }
  return lines.join('\n') + '\n';
}

/** Runs mysqldump (or mariadb-dump) with credentials in a 0600 defaults file that is removed afterwards. */
export class MysqldumpDumper implements Dumper {
  readonly name = 'mysqldump';
  constructor(
    private readonly dsn: ParsedDsn,
    private readonly binary = 'mysqldump',
  ) {}

  args(job: JobContext['job'], defaultsFile: string): string[] {
    const opts = job.options ?? MYSQLDUMP_DEFAULT_OPTIONS;
    const args = [`--defaults-extra-file=${defaultsFile}`, ...opts];
    if (this.dsn.database) {
      args.push(this.dsn.database);
      if (job.tables?.length) args.push(...job.tables);
      for (const t of job.excludetables ?? []) args.push(`--ignore-table=${this.dsn.database}.${t}`);
    } else if (!opts.some((o) => o === '--all-databases' || o === '-A' || o.startsWith('--databases') || o === '-B')) {
      args.push('--all-databases');
    }
    return args;
  }

  async dump(out: Writable, ctx: JobContext): Promise<DumpInfo> {
    const cred = createSecretFile('my.cnf', clientDefaults(this.dsn));
    try {
      await runDumpProcess({ label: this.name, command: this.binary, args: this.args(ctx.job, cred.path), signal: ctx.signal, out });
    } finally {
      cred.remove();
    }
    return {};
  }
}
