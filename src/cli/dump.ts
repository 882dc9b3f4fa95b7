import { describeKeep } from '../config/fields.js';
import { Command, Option } from 'commander';
import { addGlobalOptions, action, configPath, examples, globals, loadConfigFor, loggerFor, type GlobalOptions } from './common.js';
import { table } from './format.js';
import type { LoadedConfig } from '../config/load.js';
import { parseConfigText } from '../config/load.js';
import { prepareJobs, runExitCode, runPrepared, selectJobs, type RunSummary } from '../jobs/runner.js';
import { prepareJob } from '../jobs/job.js';
import { backupKey, namingOf } from '../jobs/naming.js';
import { COMPRESSIONS, DEFAULT_LEVEL, LEVEL_RANGE, compressionOf, type Compression, type CompressionChoice } from '../jobs/compression.js';
import { zstdAvailable, zstdNeedsNode } from '../jobs/parallel-compress.js';
import { intOption } from './sync.js';
import { ConsoleNotifier } from '../notify/console.js';
import { createNotifiers } from '../notify/create.js';
import { describeDsn, parseDsn, DsnError } from '../config/dsn.js';
import { dsnFlag } from './dsn-source.js';
import { errorMessage, EXIT, UsageError } from '../util/errors.js';
import { checkPushgatewayUrl, checkTextfilePath, parseGroupingLabels, pushToGateway, writeMetricsTextfile } from '../jobs/push-metrics.js';
import { parseDuration } from '../util/duration.js';
import { setTimeout as delay } from 'node:timers/promises';
import { ProgressLine } from '../util/progress.js';
import { formatBytes, formatDuration } from '../util/duration.js';
import type { Logger } from '../util/logger.js';
import type { PreparedJob } from '../jobs/job.js';
import { stringify } from 'yaml';

export interface DumpFlags extends GlobalOptions {
  job?: string[];
  dsn?: string;
  to?: string[];
  driver?: string;
  gzip?: boolean;
  compression?: Compression;
  compressionLevel?: number;
  unique?: boolean;
  lock?: boolean;
  lockWait?: string;
  lockDir?: string;
  jitter?: string;
  metricsTextfile?: string;
  pushgateway?: string;
  pushgatewayLabel?: string[];
  expectedInterval?: string;
}

function compressionFlag(v: string): Compression {
  if (!(COMPRESSIONS as readonly string[]).includes(v)) throw new UsageError(`--compression must be one of ${COMPRESSIONS.join(', ')} (got "${v}").`);
  return v as Compression;
}

/** The one-off dump's compression flags, checked as one: each contradiction is one sentence (exit 2). */
function oneOffCompression(flags: DumpFlags): { compression?: Compression; compressionlevel?: number } {
  if (flags.gzip && flags.compression && flags.compression !== 'gzip') throw new UsageError(`--gzip contradicts --compression ${flags.compression}; give one of them.`);
  const algorithm: Compression = flags.compression ?? (flags.gzip ? 'gzip' : 'none');
  if (algorithm === 'zstd' && !zstdAvailable()) throw new UsageError(`--compression zstd: ${zstdNeedsNode()}; use the single executable or the Docker image, or --compression gzip.`);
  const level = flags.compressionLevel;
  if (level !== undefined) {
    if (algorithm === 'none') throw new UsageError('--compression-level needs --compression zstd or gzip.');
    const [lo, hi] = LEVEL_RANGE[algorithm];
    if (level < lo || level > hi) throw new UsageError(`--compression-level: ${algorithm} levels go from ${lo} to ${hi} (got ${level}).`);
  }
  return { ...(flags.compression ? { compression: flags.compression } : {}), ...(level !== undefined ? { compressionlevel: level } : {}) };
}

export function register(program: Command): void {
  const cmd = program
    .command('dump')
    .description('run the dump jobs of a config once (or a one-off dump with --dsn and --to)')
    .option('--job <name...>', 'run only these jobs (repeatable)')
    .option('--dsn <dsn>', 'one-off dump: database DSN (Go-driver form or mysql:// / postgres:// URL); "-" reads it from ONEDUMP_DSN (or DATABASE_DSN), keeping a password out of the process list')
    .option('--to <url...>', 'one-off dump: destination file URL(s) or path(s)')
    .addOption(new Option('--driver <driver>', 'one-off dump: dumper').choices(['mysql', 'mysqldump', 'postgresql', 'pgdump']))
    .option('--gzip', 'one-off dump: gzip the output (the same as --compression gzip)')
    // choices() for --help and shell completion; the parser after it keeps the one-sentence error.
    .addOption(
      new Option('--compression <algorithm>', 'one-off dump (zstd adds .zst and needs Node.js 22.15+; default none, or gzip with --gzip)').choices(COMPRESSIONS).argParser(compressionFlag),
    )
    .option('--compression-level <n>', 'one-off dump: zstd 1-19 (default 3), gzip 1-9 (default 6)', intOption('--compression-level', 1))
    .option('--unique', 'one-off dump: timestamp prefix on the file name')
    .option('--lock-wait <duration>', 'wait this long for another run of a job to finish (default: skip it at once, exit 11)')
    .option('--lock-dir <dir>', 'folder of the per-job lock files (default $ONEDUMP_LOCK_DIR, else a folder of yours under the temporary folder)')
    .option('--no-lock', 'take no per-job lock (two runs of one job can then overlap)')
    .option('--metrics-textfile <file.prom>', 'after the run, write its metrics for node-exporter\'s textfile collector (atomically; other jobs\' samples kept)')
    .option('--pushgateway <url>', 'after the run, push its metrics to this Prometheus Pushgateway (push-add, grouped by job); "-" reads the URL from ONEDUMP_PUSHGATEWAY_URL')
    .option('--pushgateway-label <name=value...>', 'extra grouping label for --pushgateway (repeatable), e.g. instance=db1')
    .option('--expected-interval <duration>', 'exported as onedump_job_expected_interval_seconds (default: the job\'s schedule when it is an interval)')
    .option('--jitter <duration>', 'wait a random time up to this long before starting (spreads many hosts\' 03:00 runs)');
  addGlobalOptions(cmd);
  cmd.addHelpText(
    'after',
    examples(
      'onedump dump -c jobs.yml                      run every job once',
      'onedump dump -c jobs.yml --job app --json     run one job, JSON result on stdout',
      'onedump dump -c jobs.yml --dry-run            print the plan, touch nothing',
      'ONEDUMP_DSN="app:$PW@tcp(db:3306)/app" onedump dump --dsn - --driver mysqldump --to /backups/app.sql --gzip',
      'ONEDUMP_DSN="app:$PW@tcp(db:3306)/app" onedump dump --dsn - --to /backups/app.sql --compression zstd   → app.sql.zst',
      'onedump -f jobs.yml                           the Go tool\'s form',
    ),
  );
  cmd.action(action(async (flags: DumpFlags, c: Command) => runDumpCommand({ ...globals(c), ...flags })));
}

/** Builds a one-job config from --dsn/--to. */
function oneOffConfig(flags: DumpFlags): LoadedConfig {
  if (!flags.to?.length) throw new UsageError('--dsn needs --to URL (where the dump goes).');
  let engine: 'mysql' | 'postgres';
  try {
    engine = parseDsn(flags.dsn as string).engine;
  } catch (err) {
    if (err instanceof DsnError) throw new UsageError(`--dsn: ${err.message}.`);
    throw err;
  }
  const driver = flags.driver ?? (engine === 'postgres' ? 'pgdump' : 'mysql');
  const yaml = stringify({
    jobs: [{ name: 'dump', dbdriver: driver, dbdsn: flags.dsn, gzip: Boolean(flags.gzip), ...oneOffCompression(flags), unique: Boolean(flags.unique), storage: {} }],
  });
  // Storage comes from --to; validate the rest through the same schema as a file.
  try {
    return parseConfigText(yaml.replace('storage: {}', 'storage: { local: [{ path: /dev/null }] }'), '--dsn', {});
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function durationFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = value.trim() === '0' ? 0 : parseDuration(value);
  if (ms === undefined) throw new UsageError(`${name} "${value}" is not a duration such as 30s, 10m or 1h30m.`);
  return ms;
}

export async function runDumpCommand(flags: DumpFlags): Promise<number> {
  const log = loggerFor(flags);
  const lockWaitMs = durationFlag('--lock-wait', flags.lockWait) ?? 0;
  const jitterMs = durationFlag('--jitter', flags.jitter) ?? 0;
  const expectedMs = durationFlag('--expected-interval', flags.expectedInterval);
  const pushLabels = parseGroupingLabels(flags.pushgatewayLabel);
  if (flags.pushgateway === '-') {
    if (!process.env.ONEDUMP_PUSHGATEWAY_URL) throw new UsageError('--pushgateway - reads the URL from ONEDUMP_PUSHGATEWAY_URL, which is not set.');
    flags = { ...flags, pushgateway: process.env.ONEDUMP_PUSHGATEWAY_URL };
  }
  if (flags.pushgateway !== undefined) checkPushgatewayUrl(flags.pushgateway);
  if (flags.metricsTextfile !== undefined) checkTextfilePath(flags.metricsTextfile);
  if (flags.dsn) flags = { ...flags, dsn: dsnFlag(flags.dsn) };
  let loaded: LoadedConfig;
  let prepared: PreparedJob[];
  if (flags.dsn) {
    loaded = oneOffConfig(flags);
    const job = { ...loaded.config.jobs[0]!, storage: {} };
    prepared = [prepareJob(job, loaded.dsns.get('dump')!, log, flags.to)];
    loaded.config.jobs = [job];
  } else {
    if (flags.compression || flags.compressionLevel !== undefined)
      throw new UsageError(`--${flags.compression ? 'compression' : 'compression-level'} goes with a one-off dump (--dsn and --to); set compression: in the config for its jobs.`);
    loaded = await loadConfigFor(configPath(flags) as string);
    prepared = prepareJobs(loaded, selectJobs(loaded, flags.job), log);
  }
  if (flags.dryRun) return printPlan(loaded, prepared, flags);
  const progress = new ProgressLine();
  const notifiers = [new ConsoleNotifier(log), ...createNotifiers(loaded.config, log)];
  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    log.warn(`received ${sig}: aborting running jobs (nothing incomplete is kept)`);
    ac.abort(new Error(`interrupted by ${sig}`));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let summary: RunSummary;
  try {
    if (jitterMs > 0) {
      const wait = Math.floor(Math.random() * jitterMs);
      log.info(`waiting ${formatDuration(wait)} before starting (--jitter ${flags.jitter})`);
      try {
        await delay(wait, undefined, { signal: ac.signal });
      } catch {
        return EXIT.interrupted;
      }
    }
    summary = await runPrepared(prepared, loaded, {
      log,
      notifiers,
      signal: ac.signal,
      onProgress: (job, bytes) => progress.update(job, bytes),
      lock: flags.lock === false ? false : { dir: flags.lockDir, waitMs: lockWaitMs },
    });
  } finally {
    progress.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const reportFailures = await reportMetrics(summary, loaded, flags, { expectedMs, pushLabels, log });
  printSummary(summary, flags, log);
  const code = runExitCode(summary, ac.signal.aborted);
  return code === EXIT.ok && reportFailures ? EXIT.failed : code;
}

/** --metrics-textfile and --pushgateway: the run's metrics; a failure is logged and counted (exit 1 if all else was fine). */
async function reportMetrics(
  summary: RunSummary,
  loaded: LoadedConfig,
  flags: DumpFlags,
  o: { expectedMs?: number; pushLabels: Record<string, string>; log: Logger },
): Promise<number> {
  if (!flags.metricsTextfile && !flags.pushgateway) return 0;
  const expected = new Map<string, number>();
  for (const r of summary.results) {
    const job = loaded.config.jobs.find((j) => j.name === r.job);
    const text = job?.schedule ?? loaded.config.schedule;
    const fromSchedule = text ? parseDuration(text) : undefined;
    const ms = o.expectedMs ?? fromSchedule;
    if (ms !== undefined) expected.set(r.job, ms / 1000);
  }
  let failures = 0;
  if (flags.metricsTextfile) {
    try {
      await writeMetricsTextfile(flags.metricsTextfile, summary.results, expected);
    } catch (err) {
      failures++;
      o.log.error(errorMessage(err));
    }
  }
  if (flags.pushgateway) {
    try {
      await pushToGateway(flags.pushgateway, summary.results, expected, { labels: o.pushLabels });
    } catch (err) {
      failures++;
      o.log.error(errorMessage(err));
    }
  }
  return failures;
}

function printPlan(loaded: LoadedConfig, prepared: PreparedJob[], flags: GlobalOptions): number {
  const now = new Date();
  const plan = prepared.map((p) => ({
    job: p.job.name,
    dumper: p.dumper.name,
    source: describeDsn(p.dsn),
    gzip: compressionOf(p.job).algorithm === 'gzip',
    compression: compressionOf(p.job),
    encryptedTo: p.job.encrypt?.recipients.length ?? 0,
    destinations: p.targets.map((t) => ({
      name: t.name,
      location: t.location.replace(/[^/]*$/, (base) => backupKey(base, { ...namingOf(p.job), now })),
      keep: t.keep,
    })),
  }));
  if (flags.json) {
    process.stdout.write(JSON.stringify({ ok: true, dryRun: true, mode: loaded.config.mode, maxjobs: loaded.config.maxjobs, jobs: plan }, null, 2) + '\n');
  } else {
    process.stdout.write(`Plan (dry run: nothing is dumped or written), ${loaded.config.mode}, up to ${loaded.config.mode === 'sequential' ? 1 : loaded.config.maxjobs} at once:\n`);
    for (const j of plan) {
      process.stdout.write(`\njob "${j.job}": ${j.dumper} from ${j.source}${describeCompression(j.compression)}${j.encryptedTo ? `, age-encrypted to ${j.encryptedTo} recipient(s)` : ''}\n`);
      for (const d of j.destinations) process.stdout.write(`  -> ${d.name}: ${d.location}${d.keep ? ` (${describeKeep(d.keep)})` : ''}\n`);
    }
  }
  return 0;
}

/** `, gzip` / `, zstd`, with the level when it is not the default. */
function describeCompression(c: CompressionChoice): string {
  if (c.algorithm === 'none') return '';
  return `, ${c.algorithm}${c.level !== DEFAULT_LEVEL[c.algorithm] ? ` level ${c.level}` : ''}`;
}

function printSummary(summary: RunSummary, flags: GlobalOptions, log: Logger): void {
  if (flags.json) {
    const ok = summary.results.every((r) => r.ok) && summary.notificationFailures === 0;
    process.stdout.write(JSON.stringify({ ok, jobs: summary.results, notificationFailures: summary.notificationFailures }, null, 2) + '\n');
    return;
  }
  const rows = summary.results.map((r) => [
    r.job,
    r.ok ? 'ok' : r.skipped ? 'SKIPPED' : 'FAILED',
    formatBytes(r.bytes),
    formatDuration(r.durationMs),
    r.sha256 ? r.sha256.slice(0, 16) : '-',
    r.destinations.map((d) => `${d.ok ? '✓' : '✗'} ${d.location}`).join(', '),
  ]);
  process.stdout.write(table(['JOB', 'STATUS', 'SIZE', 'TIME', 'SHA256', 'DESTINATIONS'], rows));
  if (summary.notificationFailures) log.error(`${summary.notificationFailures} notification(s) could not be delivered`);
}
