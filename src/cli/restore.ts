import type { Command } from 'commander';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addGlobalOptions, action, examples, globals, loggerFor, type GlobalOptions } from './common.js';
import { parseDsn, DsnError, describeDsn } from '../config/dsn.js';
import { planRestore, restoreDump, type RestoreOptions } from '../dump/restore.js';
import { UsageError } from '../util/errors.js';
import { readDumpCoordinatesFrom, type DumpCoordinates } from '../binlog/dump-coords.js';
import { prepareReplay, type PreparedReplay, type ReplayResult } from '../binlog/replay.js';
import { fetchBinlogs } from '../binlog/fetch.js';
import { ProgressLine } from '../util/progress.js';
import { formatBytes, formatDuration } from '../util/duration.js';
import { registerSecret } from '../util/redact.js';
import type { Logger } from '../util/logger.js';
import { dsnFlag } from './dsn-source.js';

const isUrl = (spec: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(spec) && !spec.startsWith('file://');

/** The binlog folder: a local path as is, or a storage URL fetched into a temporary folder (removed afterwards). */
async function binlogFolder(spec: string, log: Logger): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  if (!isUrl(spec)) return { dir: spec.startsWith('file://') ? fileURLToPath(spec) : resolve(spec), cleanup: async () => undefined };
  const dir = await mkdtemp(join(tmpdir(), 'onedump-binlogs-'));
  try {
    const r = await fetchBinlogs(spec, dir, log);
    log.info(`fetched ${r.downloaded.length} binlog file(s) from ${spec}`);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Reads the dump's recorded binlog coordinates from its header, wherever it is stored (gzip, zstd and age handled). */
async function dumpCoordinates(opts: RestoreOptions): Promise<DumpCoordinates> {
  const p = await planRestore(opts);
  try {
    const { stream } = await p.open();
    return await readDumpCoordinatesFrom(stream, `the dump ${p.plan.source}`);
  } finally {
    await p.close();
  }
}

export interface RestoreFlags extends GlobalOptions {
  from?: string;
  dsn?: string;
  targetDb?: string;
  client?: string;
  binlogs?: string;
  until?: string;
  identity?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('restore')
    .description('load a dump (plain, gzip or zstd, age-encrypted or not; pg_dump custom format too) from a path or any storage into MySQL/MariaDB or PostgreSQL')
    .requiredOption('--from <path-or-url>', 'the dump: a path, file://, s3://, sftp://, gdrive:// or dropbox:// URL')
    .requiredOption('--dsn <dsn>', 'the database to load into (Go-driver form or mysql:// / postgres:// URL); prefer ONEDUMP_RESTORE_DSN for passwords')
    .option('--target-db <name>', 'load into this database (created if missing) instead of the DSN\'s / the dump\'s own')
    .option('--client <path>', 'client binary (default: mariadb or mysql; psql or pg_restore)')
    .option('--identity <file>', 'age identity file (AGE-SECRET-KEY-1…) to decrypt an encrypted backup')
    .option('--binlogs <dir-or-url>', 'after loading the dump, replay the MySQL binlogs in this folder or storage URL from the dump\'s recorded position (point-in-time recovery)')
    .option('--until <datetime>', 'with --binlogs: stop before the first event at or after this time: "YYYY-MM-DD HH:MM:SS" is local time (this process\'s TZ); "…Z" is UTC; "…+hh:mm" / "…-hh:mm" is that offset. A time after the dump but before the next change restores the dump alone');
  addGlobalOptions(cmd, { config: false });
  cmd.addHelpText(
    'after',
    examples(
      'onedump restore --from /backups/app.sql.gz --dsn "root:${DB_PASS}@tcp(127.0.0.1:3306)/app"',
      'onedump restore --from s3://bucket/app/20261127-app.sql.gz --dsn mysql://root@db/ --target-db app_copy',
      'onedump restore --from sftp://backup@host/var/backups/pg.dump --dsn postgres://postgres@127.0.0.1/postgres --target-db app',
      'onedump restore --from app.sql --dsn "$DSN" --dry-run          show what would be done',
      'onedump restore --from /backups/app.sql.gz --dsn "$DSN" --binlogs /var/lib/mysql-binlogs --until "2026-11-27 03:15:00"',
      'onedump restore --from s3://bucket/app.sql.gz --dsn "$DSN" --binlogs s3://bucket/binlogs/ --until "2026-11-27T03:15:00Z"',
      'onedump restore --from /backups/app.sql.gz.age --identity ~/.config/onedump/age.key --dsn "$DSN"',
    ),
  );
  cmd.action(action(async (_opts: unknown, c: Command) => runRestoreCommand(globals(c) as RestoreFlags)));
}

export async function runRestoreCommand(flags: RestoreFlags): Promise<number> {
  const log = loggerFor(flags);
  // `--dsn -` (or no --dsn) reads ONEDUMP_RESTORE_DSN: the database restored into is rarely the one dumped from.
  const dsnText = dsnFlag(flags.dsn || '-', ['ONEDUMP_RESTORE_DSN'])!;
  let dsn;
  try {
    dsn = parseDsn(dsnText);
  } catch (err) {
    if (err instanceof DsnError) throw new UsageError(`--dsn: ${err.message}.`);
    throw err;
  }
  registerSecret(dsn.password);
  if (flags.until && !flags.binlogs) throw new UsageError('--until needs --binlogs.');
  if (flags.targetDb !== undefined && !/^[^\0/\\.]{1,64}$/.test(flags.targetDb)) throw new UsageError(`--target-db "${flags.targetDb}" is not a valid database name.`);
  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => ac.abort(new Error(`interrupted by ${sig}`));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const progress = new ProgressLine();
  const opts: RestoreOptions = { from: flags.from!, dsn, targetDb: flags.targetDb, clientPath: flags.client, identity: flags.identity, log, signal: ac.signal };
  let coords: DumpCoordinates | undefined;
  let binlogDir: string | undefined;
  let cleanupBinlogs = async () => undefined as void;
  try {
    if (flags.binlogs) {
      if (dsn.engine !== 'mysql') throw new UsageError('--binlogs replays MySQL/MariaDB binlogs; the DSN is PostgreSQL.');
      if (flags.targetDb) throw new UsageError('--binlogs cannot be combined with --target-db: binlog events name their original databases.');
      // The dump's "-- CHANGE MASTER TO" comment (native dumps and mysqldump --master-data=2) says where to start;
      // read it before loading anything, so a dump without coordinates fails first.
      coords = await dumpCoordinates(opts);
      if (!flags.dryRun) {
        const b = await binlogFolder(flags.binlogs, log);
        binlogDir = b.dir;
        cleanupBinlogs = b.cleanup;
      } else binlogDir = flags.binlogs;
    }
    if (flags.dryRun) {
      const p = await planRestore(opts);
      await p.close();
      const plan = p.plan;
      // A local binlog folder is planned too (read only), so a stop time before the dump is refused here already.
      let events: { events: number; stop: string | null; notes: string[] } | undefined;
      if (coords && binlogDir && !isUrl(binlogDir)) {
        const local = binlogDir.startsWith('file://') ? fileURLToPath(binlogDir) : resolve(binlogDir);
        const pr = await prepareReplay({ dir: local, startFile: coords.file, startPos: coords.pos, stopDatetime: flags.until, dryRun: true, out: process.stdout, logger: log, window: true });
        events = { events: pr.plan.events, stop: pr.plan.stop ? `${pr.plan.stop.file}:${pr.plan.stop.pos}` : null, notes: pr.plan.notes };
      }
      const replay = coords ? { binlogs: binlogDir, startFile: coords.file, startPos: coords.pos, until: flags.until, ...events } : undefined;
      if (flags.json) process.stdout.write(JSON.stringify({ ok: true, dryRun: true, ...plan, replay }, null, 2) + '\n');
      else {
        process.stdout.write(
          `Plan (dry run: nothing is loaded):\n  from:   ${plan.source} (${plan.size !== undefined ? formatBytes(plan.size) : 'size unknown'}, ${plan.compression ? `${plan.compression}, ` : ''}${plan.format === 'pg-custom' ? 'pg_dump custom format' : 'SQL'})\n  into:   ${plan.target}\n  client: ${plan.client}\n`,
        );
        if (replay) {
          const what = events ? (events.events ? ` (${events.events} events${events.stop ? `, stopping before ${events.stop}` : ''})` : ` (nothing to replay: ${events.notes.join(' ')})`) : '';
          process.stdout.write(`  then:   replay binlogs in ${replay.binlogs} from ${replay.startFile}:${replay.startPos}${replay.until ? ` until ${replay.until}` : ''}${what}\n`);
        }
      }
      return 0;
    }
    // Plan the replay before loading anything: a stop time before the dump's snapshot, a corrupt binlog or a missing
    // mysqlbinlog then fails with the target untouched.
    let prepared: PreparedReplay | undefined;
    if (coords && binlogDir) {
      prepared = await prepareReplay({ dir: binlogDir, startFile: coords.file, startPos: coords.pos, stopDatetime: flags.until, dsn: dsnText, logger: log, signal: ac.signal, window: true });
    }
    const r = await restoreDump({ ...opts, onProgress: (bytes, total) => progress.update('restore', bytes, total) });
    progress.stop();
    let replayed: ReplayResult | undefined;
    if (prepared && coords) {
      log.info(`dump loaded; replaying binlogs from ${coords.file}:${coords.pos}${flags.until ? ` until ${flags.until}` : ''}`);
      replayed = await prepared.apply();
    }
    const p = replayed?.plan;
    if (flags.json) {
      const replay = replayed && p ? { runs: replayed.runs.length, from: coords, events: p.events, stop: p.stop ? `${p.stop.file}:${p.stop.pos}` : null, notes: p.notes } : undefined;
      process.stdout.write(JSON.stringify({ ok: true, ...r, replay }, null, 2) + '\n');
    } else {
      process.stdout.write(`Restored ${r.source} (${formatBytes(r.bytesRead)} read) into ${describeDsn({ ...dsn, database: r.database })} in ${formatDuration(r.durationMs)}.\n`);
      if (replayed && p) {
        process.stdout.write(
          replayed.applied
            ? `Replayed ${p.events} binlog events from ${coords!.file}:${coords!.pos}${flags.until ? ` until ${flags.until}` : ''} (${replayed.runs.length} mysqlbinlog run(s)).\n`
            : `Nothing to replay from ${coords!.file}:${coords!.pos}: ${p.notes.join(' ')}\n`,
        );
      }
    }
    return 0;
  } finally {
    progress.stop();
    await cleanupBinlogs();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
