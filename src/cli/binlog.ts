import { DEFAULT_RETRY } from '../util/retry.js';
import { stat } from 'node:fs/promises';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { addGlobalOptions, action, configPath, examples, globals, loadConfigFor, loggerFor, pflagBool, type GlobalOptions } from './common.js';
import { attemptsOf, printSyncResult, syncEvents } from './sync.js';
import { TransferProgress } from './transfer-progress.js';
import { storageFromUrl } from '../storage/registry.js';
import type { Storage } from '../storage/types.js';
import type { Logger } from '../util/logger.js';
import { syncBinlogs } from '../binlog/sync.js';
import { table } from './format.js';
import { dsnFlag, resolveDsn } from './dsn-source.js';
import { connectMysql } from '../binlog/connect.js';
import { queryBinlogStatus } from '../binlog/status.js';
import { readBinlog } from '../binlog/reader.js';
import { listBinlogFiles, splitBinlogName } from '../binlog/files.js';
import { listJobBackups, listStoredBinlogs, planBinlogPrune, pruneBinlogs } from '../jobs/recoverability.js';
import { prepareJob } from '../jobs/job.js';
import { readDumpCoordinates } from '../binlog/dump-coords.js';
import { replayBinlogs } from '../binlog/replay.js';
import { fetchBinlogs } from '../binlog/fetch.js';
import { formatLocal, parseStopDatetime } from '../binlog/datetime.js';
import type { StopPosition } from '../binlog/planner.js';
import { OnedumpError, UsageError } from '../util/errors.js';

function intFlag(name: string, min = 0) {
  return (v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`${name} must be a whole number of at least ${min} (got "${v}").`);
    return Number(v);
  };
}

/** `--stop-position N` (in the last binlog, as mysqlbinlog) or `FILE:N`. */
function parseStopPosition(v: string): StopPosition {
  const m = /^(?:(.+):)?(\d+)$/.exec(v);
  if (!m) throw new UsageError(`--stop-position must be a position such as 1234 or mysql-bin.000042:1234 (got "${v}").`);
  return m[1] ? { file: m[1], pos: Number(m[2]) } : { pos: Number(m[2]) };
}

const wantsJson = (json: boolean | undefined) => Boolean(json) || !process.stdout.isTTY;

export function register(program: Command): void {
  const binlog = program.command('binlog').description('binlog status, event listing, and point-in-time restore');
  binlog.addHelpText(
    'after',
    examples(
      'onedump binlog query --dsn "root:pw@tcp(127.0.0.1:3306)/"',
      'onedump binlog events /var/lib/mysql/mysql-bin.000042',
      'onedump binlog restore --dir /backups/binlogs --dump-file app.sql.gz --stop-datetime "2026-11-28 14:05:00"',
    ),
  );

  const query = binlog
    .command('query')
    .alias('status')
    .description('binlog status: log_bin, current file and position, folder, files and sizes, GTID state')
    .option('--dsn <dsn>', 'server to ask (else the config\'s job, else DATABASE_DSN)')
    .option('--job <name>', 'take the DSN from this job of the config (default: the first job)');
  addGlobalOptions(query);
  query.addHelpText(
    'after',
    examples(
      'onedump binlog query --dsn "root:pw@tcp(127.0.0.1:3306)/"',
      'onedump binlog status -c jobs.yml --job app --json',
      'DATABASE_DSN="root:pw@unix(/run/mysqld/mysqld.sock)/" onedump binlog query',
    ),
  );
  query.action(
    action(async (opts: { dsn?: string; job?: string }, cmd: Command) => {
      const g = globals(cmd);
      const dsn = await resolveDsn(cmd, opts);
      const conn = await connectMysql(dsn);
      let status;
      try {
        status = await queryBinlogStatus(conn);
      } finally {
        await conn.end().catch(() => {});
      }
      if (!status.logBin) throw new OnedumpError('binary logging is off on this server (log_bin = OFF); start it with --log-bin to keep binlogs.');
      if (wantsJson(g.json)) {
        process.stdout.write(JSON.stringify(status, null, 2) + '\n');
        return;
      }
      const rows = [
        ['server', status.server],
        ['log_bin', 'ON'],
        ['current file', status.file ?? '-'],
        ['position', String(status.position ?? '-')],
        ['log_bin_basename', status.basename ?? '-'],
        ['binlog folder', status.dir ?? '-'],
        ...Object.entries(status.gtid).map(([k, v]) => [k, String(v ?? '')]),
      ];
      process.stdout.write(table(['setting', 'value'], rows) + '\n');
      const total = status.binlogs.reduce((a, b) => a + b.size, 0);
      process.stdout.write(
        table(
          ['binlog', 'size'],
          [...status.binlogs.map((b) => [b.name, String(b.size)]), ['total', String(total)]],
        ),
      );
    }),
  );

  const events = binlog
    .command('events')
    .description('list the events of a binlog file or folder: position, end_log_pos, time, type, server id, info')
    .argument('<path>', 'a binlog file, or a folder of binlog files')
    .option('--start-position <n>', 'start at this position (must be an event boundary)', intFlag('--start-position', 4))
    .option('--no-verify', 'do not verify CRC32 checksums');
  addGlobalOptions(events, { config: false });
  events.addHelpText(
    'after',
    examples(
      'onedump binlog events /var/lib/mysql/mysql-bin.000042',
      'onedump binlog events /backups/binlogs --json | jq \'select(.type=="Gtid")\'',
    ),
  );
  events.action(
    action(async (path: string, opts: { startPosition?: number; verify: boolean }, cmd: Command) => {
      const g = globals(cmd);
      const st = await stat(path).catch(() => undefined);
      if (!st) throw new UsageError(`${path} does not exist.`);
      const files = st.isDirectory() ? (await listBinlogFiles(path)).map((f) => f.path) : [path];
      if (files.length === 0) throw new UsageError(`no binlog files (name.NNNNNN) were found in ${path}.`);
      const json = wantsJson(g.json);
      // `| head` closes stdout early: stop quietly instead of crashing on EPIPE.
      let closed = false;
      process.stdout.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EPIPE') closed = true;
      });
      if (!json) process.stdout.write(['file', 'pos', 'end_log_pos', 'time', 'type', 'server_id', 'size', 'info'].join('\t') + '\n');
      for (const [i, file] of files.entries()) {
        const name = file.slice(file.lastIndexOf('/') + 1);
        for await (const e of readBinlog(file, { start: i === 0 ? opts.startPosition : undefined, verifyChecksums: opts.verify, withInfo: true })) {
          const line = json
            ? JSON.stringify({ file: name, pos: e.pos, end_log_pos: e.logPos, timestamp: e.timestamp, time: new Date(e.timestamp * 1000).toISOString(), type: e.typeName, type_code: e.type, server_id: e.serverId, size: e.size, info: e.info })
            : [name, e.pos, e.logPos, formatLocal(e.timestamp), e.typeName, e.serverId, e.size, e.info ?? ''].join('\t');
          if (closed) return;
          if (!process.stdout.write(line + '\n')) {
            await new Promise<void>((resolve) => {
              const done = () => {
                process.stdout.off('drain', done);
                process.stdout.off('error', done);
                resolve();
              };
              process.stdout.on('drain', done);
              process.stdout.on('error', done);
            });
          }
        }
      }
    }),
  );

  const restore = binlog
    .command('restore')
    .description('point-in-time recovery: replay binlogs from a dump\'s coordinates (or a start position) up to a time or position')
    .option('-d, --dir <dir>', 'folder holding the binlog files (with --from: where to download them)')
    .option('--from <url>', 'fetch the binlogs from a storage first (file:///path/, s3://bucket/prefix/, sftp://…)')
    .option('--start-binlog <file>', 'first binlog to replay, e.g. mysql-bin.000042')
    .option('--start-position <n>', 'position in the start binlog (default: its start; 0 and 4 both mean the start, as in the Go tool)', intFlag('--start-position', 0))
    .option('--dump-file <file>', 'read the start binlog and position from this --master-data=2 dump (plain or gzip)')
    .option('--stop-datetime <time>', 'stop before the first event at or after this time: "YYYY-MM-DD HH:MM:SS" is UTC (as in the Go tool); "…Z" is UTC; "…+hh:mm" / "…-hh:mm" is that offset')
    .option('--stop-position <pos>', 'stop before this position: N in the last binlog, or FILE:N', parseStopPosition)
    .option('--dsn <dsn>', 'server to replay into (else DATABASE_DSN; "-" reads ONEDUMP_DSN or DATABASE_DSN)')
    .option('--mysqlbinlog-path <path>', 'mysqlbinlog program (default: mysqlbinlog or mariadb-binlog on PATH)')
    .option('--mysql-path <path>', 'mysql client program (default: mysql or mariadb on PATH)')
    .addOption(new Option('--max-files-per-run <n>', 'binlogs per mysqlbinlog run').default(10).argParser(intFlag('--max-files-per-run', 1)).hideHelp());
  addGlobalOptions(restore, { config: false, goBooleans: true });
  restore.addHelpText(
    'after',
    examples(
      'onedump binlog restore --dir /backups/binlogs --dump-file app.sql.gz --stop-datetime "2026-11-28 14:05:00"      (UTC)',
      'onedump binlog restore -d /var/lib/mysql --start-binlog mysql-bin.000042 --start-position 1638 --stop-datetime "2026-11-28 15:05:00+01:00"',
      'onedump binlog restore --dir="/path/to/binlogs" --dump-file="path/to/dump-file.sql" --dry-run=true             (the Go tool\'s form)',
      'onedump binlog restore --from s3://bucket/binlogs/ --dir /tmp/binlogs --dump-file app.sql.gz --stop-position mysql-bin.000044:1200',
      'onedump binlog restore --dir /backups/binlogs --dump-file app.sql --stop-datetime "2026-11-28 14:05:00" --dry-run > replay.sql',
      '(the dump itself is not loaded: load it first, or use `onedump restore --until`)',
    ),
  );
  restore.action(
    action(
      async (
        opts: {
          dir?: string;
          from?: string;
          startBinlog?: string;
          startPosition?: number;
          dumpFile?: string;
          stopDatetime?: string;
          stopPosition?: StopPosition;
          dsn?: string;
          mysqlbinlogPath?: string;
          mysqlPath?: string;
          maxFilesPerRun: number;
        },
        cmd: Command,
      ) => {
        const g = globals(cmd);
        const log = loggerFor(g);
        let dir = opts.dir;
        if (!dir && !opts.from) throw new UsageError('give --dir (the folder holding the binlogs) or --from URL.');
        // The Go tool reads its "YYYY-MM-DD HH:MM:SS" as UTC (time.Parse); so does this command. Parsed first, so a
        // bad time fails before anything is downloaded.
        const stopDatetime = opts.stopDatetime !== undefined ? parseStopDatetime(opts.stopDatetime, { bare: 'utc' }) : undefined;
        if (opts.dumpFile && opts.startBinlog) throw new UsageError('give either --dump-file or --start-binlog, not both.');
        let startFile = opts.startBinlog;
        let startPos = opts.startPosition;
        if (opts.dumpFile) {
          const c = await readDumpCoordinates(opts.dumpFile);
          startFile = c.file;
          startPos = startPos ?? c.pos;
          log.info({ dump: opts.dumpFile, file: c.file, pos: c.pos, gtid: c.gtid }, 'binlog coordinates from the dump');
        }
        if (!startFile) throw new UsageError('give --dump-file (a --master-data=2 dump) or --start-binlog to say where replay starts.');
        if (opts.from) {
          dir ??= mkdtempSync(join(tmpdir(), 'onedump-binlogs-'));
          const r = await fetchBinlogs(opts.from, dir, log);
          log.info({ from: opts.from, dir, downloaded: r.downloaded.length, skipped: r.skipped.length }, 'binlogs fetched');
        }
        const dsn = g.dryRun ? undefined : (dsnFlag(opts.dsn) ?? process.env.DATABASE_DSN);
        const result = await replayBinlogs({
          dir: dir as string,
          startFile,
          startPos,
          stopDatetime,
          stopPosition: opts.stopPosition,
          dsn,
          dryRun: g.dryRun,
          out: process.stdout,
          mysqlbinlogPath: opts.mysqlbinlogPath,
          mysqlPath: opts.mysqlPath,
          maxFilesPerRun: opts.maxFilesPerRun,
          logger: log,
        });
        const p = result.plan;
        const summary = {
          ok: true,
          applied: result.applied,
          start: `${p.start.file}:${p.start.pos}`,
          stop: p.stop ? `${p.stop.file}:${p.stop.pos}` : null,
          stop_event_time: p.stop ? formatLocal(p.stop.timestamp) : null,
          files: p.files.map((f) => f.name),
          events: p.events,
          last_event: p.last ? { file: p.last.file, pos: p.last.pos, time: formatLocal(p.last.timestamp) } : null,
          notes: p.notes,
        };
        if (g.dryRun) {
          log.info(summary, 'dry run: the SQL above was not applied');
        } else if (g.json) {
          process.stdout.write(JSON.stringify(summary) + '\n');
        } else {
          const through = p.last ? `, through ${p.last.file} at ${p.last.pos} (${formatLocal(p.last.timestamp)})` : '';
          process.stdout.write(
            result.applied
              ? `replayed ${p.events} events from ${summary.start}${through}; stopped ${p.stop ? `before ${summary.stop}` : 'at the end of the binlogs'}.\n`
              : `nothing replayed: ${p.notes.join(' ')}\n`,
          );
        }
      },
    ),
  );

  // `binlog sync --to URL` (any storage), and the Go tool's `binlog sync s3 -b BUCKET -p PREFIX` (its command is
  // declared as "sync s3": cobra names it `sync` and ignores the word after it) and older `binlog sync-s3`.
  const sync = binlog
    .command('sync')
    .description('upload the binlog files to any storage, incrementally (run it on the database server); `binlog sync s3 -b BUCKET -p PREFIX` is the Go tool\'s form')
    .argument('[s3]', 'the Go tool\'s form: `sync s3` with --s3-bucket and --s3-prefix')
    .option('--to <url>', 'destination folder: storage URL or path (s3://bucket/binlogs/?region=…, sftp://user@host/path/, /mnt/nas/binlogs/)')
    .option('-b, --s3-bucket <bucket>', 'the Go tool\'s form: the S3 bucket (AWS_REGION and credentials from the environment)')
    .option('-p, --s3-prefix <prefix>', 'the Go tool\'s form: the key prefix (folder) for the binlog files')
    .option('--dsn <dsn>', 'server to ask for its binlogs (else the config\'s job, else DATABASE_DSN)')
    .option('--job <name>', 'take the DSN from this job of the config (default: the first job)')
    .option('--checksum [bool]', 'skip files already transferred (checksum.onedump in the binlog folder); also --checksum=true', pflagBool('--checksum'))
    .option('--checksum-file <path>', 'keep the checksum state in this file instead')
    .option('--save-log [bool]', 'append one JSON line per run (finished_at, files, ok, error) to onedump-binlog-sync.log in the binlog folder; also --save-log=true', pflagBool('--save-log'))
    .option('--log-file <path>', 'append the run log to this file instead (its folder is created)')
    .option('--parallel <n>', 'files in flight (default 10)', intFlag('--parallel', 1))
    .option('--max-attempts <n>', `tries per file on transient faults (default ${DEFAULT_RETRY.attempts}; 0 = until it works)`, intFlag('--max-attempts', 0))
    .option('--ssh-key <path>', 'private key for an sftp:// destination')
    .option('--keep-for-pitr', "with -c: after the upload, delete the binlogs at the destination that no kept dump of the job (--job, default the first) needs, and do not upload those; see docs/retention.md");
  addGlobalOptions(sync, { goBooleans: true });
  sync.addHelpText(
    'after',
    examples(
      'onedump binlog sync --to "s3://my-bucket/binlogs/?region=ap-southeast-2" --checksum --save-log',
      'DATABASE_DSN="root@unix(/run/mysqld/mysqld.sock)/" onedump binlog sync --to sftp://backup@nas/srv/binlogs/ --checksum',
      'onedump binlog sync -c jobs.yml --job app --to /mnt/nas/binlogs/ --checksum --dry-run',
      'onedump binlog sync s3 --s3-bucket="your-bucket" --s3-prefix="binlogs" --checksum=true --save-log=true      (the Go tool\'s form)',
    ),
  );
  sync.action(
    action(async (word: string | undefined, opts: BinlogSyncFlags & { to?: string; s3Bucket?: string; s3Prefix?: string }, cmd: Command) => {
      const goForm = word !== undefined || opts.s3Bucket !== undefined || opts.s3Prefix !== undefined;
      if (word !== undefined && word !== 's3') throw new UsageError(`binlog sync takes no argument but "s3" (the Go tool's form); got "${word}". Use --to URL for other storages.`);
      if (goForm && opts.to !== undefined) throw new UsageError('give either --to URL or the Go tool\'s form (binlog sync s3 --s3-bucket B --s3-prefix P), not both.');
      if (goForm) return runGoS3Sync(cmd, opts as BinlogSyncFlags & { s3Bucket?: string; s3Prefix?: string });
      if (opts.to === undefined) throw new UsageError('give --to URL (the destination folder), or use the Go tool\'s form: binlog sync s3 --s3-bucket B --s3-prefix P.');
      const g = { ...globals(cmd), ...opts };
      const log = loggerFor(g);
      const t = storageFromUrl(opts.to, { log }, opts.sshKey ? { sshkey: opts.sshKey } : undefined);
      const prefix = t.key === '' || t.key.endsWith('/') ? t.key : `${t.key}/`;
      return runBinlogSync(cmd, opts, g, log, t.storage, prefix);
    }),
  );

  const syncS3 = binlog
    .command('sync-s3')
    .description('the Go tool\'s older form of binlog sync s3: upload the binlogs to an S3 bucket (AWS_REGION, credentials and DATABASE_DSN from the environment)')
    .requiredOption('-b, --s3-bucket <bucket>', 'the S3 bucket')
    .requiredOption('-p, --s3-prefix <prefix>', 'the key prefix (folder) for the binlog files')
    .option('--checksum [bool]', 'skip files already transferred (checksum.onedump in the binlog folder)', pflagBool('--checksum'))
    .option('--checksum-file <path>', 'keep the checksum state in this file instead')
    .option('--save-log [bool]', 'append one JSON line per run to onedump-binlog-sync.log in the binlog folder', pflagBool('--save-log'))
    .option('--log-file <path>', 'append the run log to this file instead (its folder is created)')
    .option('--dsn <dsn>', 'server to ask (else DATABASE_DSN)');
  addGlobalOptions(syncS3, { goBooleans: true });
  syncS3.addHelpText(
    'after',
    examples(
      'onedump binlog sync-s3 --s3-bucket="your-bucket" --s3-prefix="binlogs" --checksum=true',
      'onedump binlog sync-s3 --s3-bucket="your-bucket" --s3-prefix="binlogs" --save-log=true --log-file=/path/to/the/file.log',
    ),
  );
  syncS3.action(action(async (opts: BinlogSyncFlags & { s3Bucket: string; s3Prefix: string }, cmd: Command) => runGoS3Sync(cmd, opts)));
}

/**
 * The Go tool's S3 form. Its keys are `PREFIX + "/" + name`, uncleaned; ours clean the prefix ("binlogs/" and
 * "binlogs" both give binlogs/NAME). A binlog the Go tool already shipped under its own key (binlogs//NAME) is found
 * there and kept there, so switching binaries neither uploads it again nor leaves two copies.
 */
async function runGoS3Sync(cmd: Command, opts: BinlogSyncFlags & { s3Bucket?: string; s3Prefix?: string }): Promise<number> {
  if (opts.s3Bucket === undefined || opts.s3Prefix === undefined) {
    const missing = [opts.s3Bucket === undefined ? '--s3-bucket' : '', opts.s3Prefix === undefined ? '--s3-prefix' : ''].filter(Boolean).join(' and ');
    throw new UsageError(`binlog sync s3 needs ${missing} (the bucket and the key prefix for the binlog files).`);
  }
  if (!opts.s3Bucket.trim()) throw new UsageError('--s3-bucket is empty; give the bucket name.');
  const g = { ...globals(cmd), ...opts };
  const log = loggerFor(g);
  const clean = opts.s3Prefix.replace(/^\/+|\/+$/g, '');
  // The bucket's root, so that keys can be written exactly as the Go tool wrote them.
  const t = storageFromUrl(`s3://${encodeURIComponent(opts.s3Bucket)}/`, { log });
  return runBinlogSync(cmd, opts, g, log, t.storage, clean ? `${clean}/` : '', `${opts.s3Prefix}/`);
}

interface BinlogSyncFlags {
  checksum?: boolean;
  checksumFile?: string;
  saveLog?: boolean;
  logFile?: string;
  parallel?: number;
  maxAttempts?: number;
  sshKey?: string;
  dsn?: string;
  job?: string;
  keepForPitr?: boolean;
}

/**
 * `--keep-for-pitr`: the dumps the job keeps at all its destinations, and which binlog names none of them needs. A
 * destination that cannot be listed is an error: what it keeps is unknown, so nothing may be deleted.
 */
async function pitrKeep(cmd: Command, jobName: string | undefined, storage: Storage, prefix: string, log: Logger) {
  const path = configPath(globals(cmd), false);
  if (!path) throw new UsageError('--keep-for-pitr needs -c CONFIG (and --job NAME): the kept dumps of that job say which binlogs are still needed.');
  const loaded = await loadConfigFor(path);
  const job = jobName ? loaded.config.jobs.find((j) => j.name === jobName) : loaded.config.jobs[0];
  if (!job) throw new UsageError(`the config has no job named "${jobName}" (jobs: ${loaded.config.jobs.map((j) => j.name).join(', ')}).`);
  const listings = await listJobBackups(prepareJob(job, loaded.dsns.get(job.name)!, log));
  const failed = listings.find((l) => l.error);
  if (failed) throw new OnedumpError(`--keep-for-pitr: job "${job.name}" ${failed.destination} (${failed.location}) could not be listed, so which binlogs its dumps need is unknown: ${failed.error}`);
  const kept = listings.flatMap((l) => l.backups);
  const plan = planBinlogPrune(await listStoredBinlogs(storage, prefix), kept);
  const needed = new Map(plan.needed.map((n) => [n.base, n.seq]));
  if (plan.notes.length) log.info(`binlog sync --keep-for-pitr: ${plan.notes.join('; ')}`);
  return {
    kept,
    obsolete: (name: string) => {
      const s = splitBinlogName(name);
      const n = s ? needed.get(s.prefix) : undefined;
      return n !== undefined && s!.seq < n;
    },
  };
}

async function runBinlogSync(cmd: Command, opts: BinlogSyncFlags, g: GlobalOptions, log: Logger, storage: Storage, prefix: string, goPrefix?: string): Promise<number> {
  const progress = new TransferProgress(log, 'binlog sync:');
  try {
    const dsn = await resolveDsn(cmd, { dsn: opts.dsn, job: opts.job });
    // Before the server is asked: a --keep-for-pitr without a config fails first, and what is kept is known.
    const pitr = opts.keepForPitr ? await pitrKeep(cmd, opts.job, storage, prefix, log) : undefined;
    const conn = await connectMysql(dsn);
    let status;
    try {
      status = await queryBinlogStatus(conn);
    } finally {
      await conn.end().catch(() => undefined);
    }
    // Files no kept dump needs are not uploaded again (they would be deleted right after).
    if (pitr) status = { ...status, binlogs: status.binlogs.filter((b) => !pitr.obsolete(b.name)) };
    const out = await syncBinlogs({
      status,
      storage,
      prefix,
      goPrefix,
      checksum: Boolean(opts.checksum),
      checksumFile: opts.checksumFile,
      saveLog: Boolean(opts.saveLog),
      logFile: opts.logFile,
      parallel: opts.parallel,
      maxAttempts: attemptsOf(opts.maxAttempts, 8),
      dryRun: Boolean(g.dryRun),
      log,
      events: syncEvents(progress, log),
    });
    progress.stop();
    const code = printSyncResult(out.result, g, storage.describe(prefix), (k) => storage.describe(k));
    if (pitr) {
      const r = await pruneBinlogs(storage, prefix, pitr.kept, { log, dryRun: Boolean(g.dryRun) });
      if (g.dryRun) for (const f of r.delete) log.info({ file: f.name }, `dry run: --keep-for-pitr would delete ${storage.describe(f.key)} (${f.reason})`);
    }
    return code;
  } finally {
    progress.stop();
    await storage.close?.();
  }
}
