import type { Command } from 'commander';
import { parseDsn, type ParsedDsn } from '../config/dsn.js';
import { UsageError } from '../util/errors.js';
import { configPath, globals, loadConfigFor } from './common.js';

function parse(text: string, from: string): ParsedDsn {
  try {
    return parseDsn(text);
  } catch (err) {
    throw new UsageError(`the DSN from ${from} is not valid: ${(err as Error).message}.`);
  }
}

/** Environment variables `--dsn -` reads, in order: a DSN with a password then never appears in the process list. */
export const DSN_ENV = ['ONEDUMP_DSN', 'DATABASE_DSN'] as const;

/**
 * The DSN text a `--dsn` flag stands for: `-` means the environment (`env`, first set wins); anything else is the
 * value itself. Undefined when the flag is absent.
 */
export function dsnFlag(value: string | undefined, env: readonly string[] = DSN_ENV): string | undefined {
  if (value !== '-') return value;
  for (const name of env) {
    const v = process.env[name];
    if (v) return v;
  }
  throw new UsageError(`--dsn - reads the DSN from the environment, but ${env.join(' and ')} ${env.length > 1 ? 'are' : 'is'} not set.`);
}

/**
 * The database for server-side commands: --dsn, else the config's job (--job NAME, or the first job), else
 * DATABASE_DSN (the Go tool's variable).
 */
export async function resolveDsn(cmd: Command, opts: { dsn?: string; job?: string; allowConfig?: boolean }): Promise<ParsedDsn> {
  if (opts.dsn) return parse(dsnFlag(opts.dsn)!, opts.dsn === '-' ? 'the environment' : '--dsn');
  const g = globals(cmd);
  const path = opts.allowConfig === false ? undefined : configPath(g, false);
  if (path) {
    const loaded = await loadConfigFor(path);
    const jobs = loaded.config.jobs;
    const job = opts.job ? jobs.find((j) => j.name === opts.job) : jobs[0];
    if (!job) {
      throw new UsageError(
        opts.job ? `the config has no job named "${opts.job}" (jobs: ${jobs.map((j) => j.name).join(', ')}).` : 'the config has no jobs to take a DSN from.',
      );
    }
    const dsn = loaded.dsns.get(job.name);
    if (!dsn) throw new UsageError(`job "${job.name}" has no usable dbdsn.`);
    return dsn;
  }
  const env = process.env.DATABASE_DSN;
  if (env) return parse(env, 'DATABASE_DSN');
  throw new UsageError('no database given: pass --dsn DSN, -c CONFIG (the first job, or --job NAME), or set DATABASE_DSN.');
}
