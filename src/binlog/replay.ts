import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import { parseDsn, DsnError, describeDsn } from '../config/dsn.js';
import { OnedumpError, UsageError } from '../util/errors.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { redactText } from '../util/redact.js';
import { createSecretFile } from '../util/secret-file.js';
import { parseStopDatetime, formatLocal } from './datetime.js';
import { findProgram } from './mysql-client.js';
import { clientDefaults } from '../dump/mysqldump.js';
import { binlogChainFrom, binlogsFrom } from './files.js';
import { mysqlbinlogRuns, planReplay, type ReplayPlan, type StopPosition } from './planner.js';

export interface ReplayOptions {
  /** Folder holding the binlog files. */
  dir: string;
  /** Refuse a stop time outside what the binlogs can restore to (see PlanInput.window): `onedump restore --until`. */
  window?: boolean;
  startFile: string;
  startPos?: number;
  /** `YYYY-MM-DD HH:MM:SS` (local time), with optional `Z`/`±hh:mm`, or epoch seconds. */
  stopDatetime?: string | number;
  /** A position in the last binlog, or `{ file, pos }`. */
  stopPosition?: number | StopPosition;
  /** Target server; required unless dryRun. Any DSN form the config accepts. */
  dsn?: string;
  /** Write mysqlbinlog's SQL to `out` instead of applying it. */
  dryRun?: boolean;
  /** Where dry-run SQL goes (the CLI passes stdout). */
  out?: Writable;
  mysqlbinlogPath?: string;
  mysqlPath?: string;
  /** Most files per mysqlbinlog run (10, as the Go tool). */
  maxFilesPerRun?: number;
  logger?: Logger;
  signal?: AbortSignal;
}

export interface ReplayResult {
  plan: ReplayPlan;
  /** mysqlbinlog argument lists, in order. */
  runs: string[][];
  applied: boolean;
}

const MAX_STDERR = 64 * 1024;

export interface PreparedReplay {
  plan: ReplayPlan;
  runs: string[][];
  /** Runs the plan: prints the SQL (dry run) or applies it. */
  apply(): Promise<ReplayResult>;
}

/**
 * Point-in-time replay: plans with the native reader (so bad inputs fail before anything runs), then pipes
 * mysqlbinlog into mysql per run of at most 10 files. Fails with the stderr of whichever side failed.
 */
export async function replayBinlogs(opts: ReplayOptions): Promise<ReplayResult> {
  return (await prepareReplay(opts)).apply();
}

/**
 * Every check and the plan, touching no database: `onedump restore --binlogs` calls it before it loads the dump, so a
 * stop time the binlogs cannot reach (or a corrupt binlog, or a missing mysqlbinlog) leaves the target untouched.
 */
export async function prepareReplay(opts: ReplayOptions): Promise<PreparedReplay> {
  const log = opts.logger ?? silentLogger;
  const stopDatetime = typeof opts.stopDatetime === 'string' ? parseStopDatetime(opts.stopDatetime) : opts.stopDatetime;
  const stopPosition = typeof opts.stopPosition === 'number' ? { pos: opts.stopPosition } : opts.stopPosition;
  // Cheap checks first (folder, start file), so a typo is not reported as a missing DSN.
  if (opts.window && stopDatetime !== undefined) await binlogChainFrom(opts.dir, opts.startFile);
  else await binlogsFrom(opts.dir, opts.startFile);
  const mysqlbinlog = findProgram(opts.mysqlbinlogPath, ['mysqlbinlog', 'mariadb-binlog'], 'mysqlbinlog', '--mysqlbinlog-path');
  let mysql: string | undefined;
  let dsn;
  if (!opts.dryRun) {
    if (!opts.dsn) throw new UsageError('no database to replay into: give --dsn or set DATABASE_DSN.');
    try {
      dsn = parseDsn(opts.dsn);
    } catch (err) {
      throw new UsageError(`the DSN is not valid: ${(err as DsnError).message}.`);
    }
    if (dsn.engine !== 'mysql') throw new UsageError('binlogs replay into MySQL or MariaDB; the DSN points at PostgreSQL.');
    mysql = findProgram(opts.mysqlPath, ['mysql', 'mariadb'], 'the mysql client', '--mysql-path');
  } else if (!opts.out) {
    throw new UsageError('a dry run needs somewhere to print the SQL.');
  }
  const plan = await planReplay({ dir: opts.dir, startFile: opts.startFile, startPos: opts.startPos, stopDatetime, stopPosition, window: opts.window });
  for (const n of plan.notes) log.info(n);
  const runs = mysqlbinlogRuns(plan, opts.maxFilesPerRun ?? 10);
  log.info(
    {
      start: `${plan.start.file}:${plan.start.pos}`,
      stop: plan.stop ? `${plan.stop.file}:${plan.stop.pos}` : 'end',
      stopAt: plan.stop ? formatLocal(plan.stop.timestamp) : undefined,
      files: plan.files.length,
      events: plan.events,
      runs: runs.length,
      target: dsn ? describeDsn(dsn) : 'dry run',
    },
    'binlog replay plan',
  );
  const apply = async (): Promise<ReplayResult> => {
    if (runs.length === 0) return { plan, runs, applied: false };
    if (opts.dryRun) {
      for (const args of runs) await runMysqlbinlog(mysqlbinlog, args, opts.out as Writable, opts.signal);
      return { plan, runs, applied: false };
    }
    const cred = createSecretFile('client.cnf', clientDefaults(dsn!));
    try {
      for (const [i, args] of runs.entries()) {
        log.info({ run: i + 1, of: runs.length, files: args.filter((a) => !a.startsWith('--')).length }, 'replaying binlogs');
        // --binary-mode: row images and statement text may hold bytes the client would otherwise mangle.
        await pipeToMysql(mysqlbinlog, args, mysql!, [`--defaults-extra-file=${cred.path}`, '--binary-mode'], opts.signal);
      }
    } finally {
      cred.remove();
    }
    return { plan, runs, applied: true };
  };
  return { plan, runs, apply };
}

function collect(stream: NodeJS.ReadableStream | null): () => string {
  let text = '';
  stream?.on('data', (d: Buffer) => {
    if (text.length < MAX_STDERR) text += d.toString('utf8');
  });
  return () => redactText(text.trim());
}

function waitExit(child: ReturnType<typeof spawn>, name: string): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    child.once('error', (err) => reject(new OnedumpError(`cannot run ${name}: ${(err as Error).message}.`, { cause: err })));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
}

async function runMysqlbinlog(bin: string, args: string[], out: Writable, signal?: AbortSignal): Promise<void> {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], signal });
  const err = collect(child.stderr);
  child.stdout.pipe(out, { end: false });
  const { code, signal: sig } = await waitExit(child, bin);
  if (code !== 0) throw new OnedumpError(`mysqlbinlog failed (${sig ?? `exit ${code}`}): ${err() || 'no error output'}`);
}

async function pipeToMysql(binlogBin: string, args: string[], mysqlBin: string, mysqlArgs: string[], signal?: AbortSignal): Promise<void> {
  const reader = spawn(binlogBin, args, { stdio: ['ignore', 'pipe', 'pipe'], signal });
  const writer = spawn(mysqlBin, mysqlArgs, { stdio: ['pipe', 'pipe', 'pipe'], signal });
  const readerErr = collect(reader.stderr);
  const writerErr = collect(writer.stderr);
  const writerOut = collect(writer.stdout);
  // If mysql dies, mysqlbinlog gets EPIPE; the error worth reporting is mysql's, so swallow the pipe error here.
  writer.stdin.on('error', () => {});
  reader.stdout.pipe(writer.stdin);
  const [r, w] = await Promise.all([waitExit(reader, binlogBin), waitExit(writer, mysqlBin)]);
  if (w.code !== 0) {
    // The client echoes the failing statement (a BINLOG base64 blob can be megabytes): report the ERROR lines.
    const text = writerErr() || writerOut();
    const errors = text.split('\n').filter((l) => /^ERROR \d+/.test(l));
    const why = errors.length ? errors.join('; ') : text.slice(-2000) || 'no error output';
    throw new OnedumpError(`mysql failed while applying the binlogs (${w.signal ?? `exit ${w.code}`}): ${why}`);
  }
  if (r.code !== 0) throw new OnedumpError(`mysqlbinlog failed (${r.signal ?? `exit ${r.code}`}): ${readerErr() || 'no error output'}`);
}
