import type { Command } from 'commander';
import { addGlobalOptions, action, configPath, examples, globals, loadConfigFor, loggerFor, type GlobalOptions } from './common.js';
import { dsnFlag } from './dsn-source.js';
import { selectJobs } from './jobs-select.js';
import { parseDsn, type ParsedDsn } from '../config/dsn.js';
import type { JobConfig } from '../config/schema.js';
import { storageFromUrl } from '../storage/registry.js';
import type { Storage } from '../storage/types.js';
import { jobBackup, jobScratchServer, latestBackup, verifyBackup, type VerifyResult } from '../jobs/verify.js';
import { UsageError } from '../util/errors.js';
import { formatDuration } from '../util/duration.js';
import { registerSecret } from '../util/redact.js';
import { silentLogger } from '../util/logger.js';

export interface VerifyFlags extends GlobalOptions {
  job?: string;
  backup?: string;
  destination?: string;
  identity?: string;
  server?: string;
  serverDatabase?: string;
  record?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('verify')
    .argument('[url]', 'a backup file (or a folder: its newest backup) on any storage; without it, -c FILE --job NAME')
    .description('restore drill: load a backup into a scratch server, dump it again and compare every table with its manifest')
    .option('--job <name>', 'with -c: the job whose backup to verify')
    .option('--backup <name>', 'with -c: the backup file name, or "latest" (default)')
    .option('--destination <name>', 'with -c: which of the job\'s destinations to read (e.g. s3[0]; default the first)')
    .option('--identity <file>', 'age identity file for an encrypted backup')
    .option('--server <dsn>', 'restore into a scratch database on this server instead of a throwaway server onedump starts ("-" reads ONEDUMP_VERIFY_DSN)')
    .option('--server-database <name>', 'with --server: the scratch database (created and dropped; default onedump_verify_<random>)')
    .option('--no-record', 'do not store the result next to the backup (NAME.verify.json)');
  addGlobalOptions(cmd);
  cmd.addHelpText(
    'after',
    examples(
      'onedump verify -c jobs.yml --job app-nightly                 the newest backup at the first destination',
      'onedump verify -c jobs.yml --job app-nightly --backup 20261128030000-app.sql.gz --destination s3[0]',
      'onedump verify s3://backups/app/20261128030000-app.sql.gz.age --identity ops-backup.key',
      'onedump verify /backups/ --server - --json                   newest backup in a folder, on the server in ONEDUMP_VERIFY_DSN',
    ),
  );
  cmd.action(action(async (url: string | undefined, _o: unknown, c: Command) => runVerifyCommand(url, globals(c) as VerifyFlags)));
}

interface Target {
  storage: Storage;
  key: string;
  job?: JobConfig;
  sourceDsn?: ParsedDsn;
}

async function resolveTarget(url: string | undefined, flags: VerifyFlags): Promise<Target> {
  if (url) {
    if (flags.job) throw new UsageError('--job goes with -c FILE, not with a URL.');
    const { storage, key } = storageFromUrl(url, { log: silentLogger });
    if (!key || key.endsWith('/')) return { storage, key: await latestBackup(storage, key) };
    if (await storage.stat(key)) return { storage, key };
    return { storage, key: await latestBackup(storage, `${key}/`) };
  }
  const loaded = await loadConfigFor(configPath(flags)!);
  const jobs = loaded.config.jobs;
  if (!flags.job && jobs.length !== 1) throw new UsageError(`name the job to verify with --job (jobs: ${jobs.map((j) => j.name).join(', ')}).`);
  const job = flags.job ? selectJobs(loaded, [flags.job])[0]! : jobs[0]!;
  const sourceDsn = loaded.dsns.get(job.name)!;
  const b = await jobBackup(job, sourceDsn, { destination: flags.destination, backup: flags.backup });
  return { ...b, job, sourceDsn };
}

export async function runVerifyCommand(url: string | undefined, flags: VerifyFlags): Promise<number> {
  const log = loggerFor(flags);
  let server: { dsn: ParsedDsn; database?: string } | undefined;
  if (flags.server) {
    const text = dsnFlag(flags.server, ['ONEDUMP_VERIFY_DSN'])!;
    try {
      server = { dsn: parseDsn(text), database: flags.serverDatabase };
    } catch (err) {
      throw new UsageError(`--server: ${(err as Error).message}.`);
    }
    registerSecret(server.dsn.password);
  } else if (flags.serverDatabase) throw new UsageError('--server-database goes with --server.');
  const target = await resolveTarget(url, flags);
  // The job's verify: settings, where the command line says nothing.
  server ??= target.job ? jobScratchServer(target.job) : undefined;
  const identity = flags.identity ?? target.job?.verify?.identity;
  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => ac.abort(new Error(`interrupted by ${sig}`));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const r = await verifyBackup({ ...target, identity, server, record: flags.record !== false, log, signal: ac.signal });
    if (flags.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
    else process.stdout.write(render(r));
    return r.ok ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await target.storage.close?.();
  }
}

function render(r: VerifyResult): string {
  const lines = [`${r.ok ? 'verified' : 'FAILED'}: ${r.backup}`];
  if (r.target) lines.push(`  restored into ${r.target}${r.restoreMs !== undefined ? ` in ${formatDuration(r.restoreMs)} (restore time)` : ''}; drill took ${formatDuration(r.durationMs)}`);
  if (r.sha256.ok !== undefined) lines.push(`  sha256 ${r.sha256.ok ? 'matches the manifest' : 'DIFFERS from the manifest'}`);
  if (r.tables.length) lines.push(`  tables: ${r.tables.filter((t) => t.ok).length} of ${r.tables.length} identical to what was dumped`);
  for (const d of r.differences) lines.push(`  - ${d}`);
  for (const n of r.notes) lines.push(`  note: ${n}`);
  return lines.join('\n') + '\n';
}
