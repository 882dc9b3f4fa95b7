import type { Command } from 'commander';
import { addGlobalOptions, action, configPath, examples, globals, loadConfigFor, type GlobalOptions } from './common.js';
import { table } from './format.js';
import { storageFromUrl } from '../storage/registry.js';
import { listBackups, type CatalogEntry } from '../jobs/catalog.js';
import { prepareJob } from '../jobs/job.js';
import { splitKey } from '../jobs/naming.js';
import { listJobBackups } from '../jobs/recoverability.js';
import { selectJobs } from './jobs-select.js';
import { silentLogger } from '../util/logger.js';
import { UsageError } from '../util/errors.js';
import { formatBytes } from '../util/duration.js';

export interface LsFlags extends GlobalOptions {
  job?: string[];
}

interface Listing {
  job?: string;
  destination: string;
  location: string;
  backups: CatalogEntry[];
  error?: string;
}

export function register(program: Command): void {
  const cmd = program
    .command('ls')
    .argument('[url]', 'a folder on any storage (path, s3://, sftp://, gdrive://, dropbox://); without it, the destinations of the config\'s jobs')
    .description('list backups, newest first, with what their manifests and last verification say')
    .option('--job <name...>', 'with -c: only these jobs');
  addGlobalOptions(cmd);
  cmd.addHelpText(
    'after',
    examples(
      'onedump ls /backups/                          every backup in a folder',
      'onedump ls s3://backups/app/ --json           ... for scripts',
      'onedump ls -c jobs.yml --job app-nightly      exactly the backups retention counts for that job, at each destination',
    ),
  );
  cmd.action(action(async (url: string | undefined, _opts: unknown, c: Command) => runLsCommand(url, globals(c) as LsFlags)));
}

async function listUrl(url: string): Promise<Listing> {
  const { storage, key } = storageFromUrl(url, { log: silentLogger });
  try {
    let dir = key;
    let accept: ((name: string) => boolean) | undefined;
    if (key && !key.endsWith('/')) {
      // A file: list just that backup. Anything else is taken as a folder.
      if (await storage.stat(key)) {
        const { dir: d, base } = splitKey(key);
        dir = d;
        accept = (n) => n === base;
      } else dir = `${key}/`;
    }
    return { destination: url, location: storage.describe(dir), backups: await listBackups(storage, dir, { accept }) };
  } finally {
    await storage.close?.();
  }
}

export async function runLsCommand(url: string | undefined, flags: LsFlags): Promise<number> {
  const listings: Listing[] = [];
  if (url) {
    if (flags.job?.length) throw new UsageError('--job goes with -c FILE, not with a URL.');
    listings.push(await listUrl(url));
  } else {
    const loaded = await loadConfigFor(configPath(flags)!);
    for (const job of selectJobs(loaded, flags.job)) {
      for (const l of await listJobBackups(prepareJob(job, loaded.dsns.get(job.name)!, silentLogger))) listings.push({ job: job.name, ...l });
    }
  }
  const failed = listings.filter((l) => l.error);
  if (flags.json) {
    process.stdout.write(JSON.stringify({ ok: failed.length === 0, destinations: listings.map(jsonListing) }, null, 2) + '\n');
  } else {
    for (const l of listings) process.stdout.write(render(l));
  }
  for (const l of failed) process.stderr.write(`onedump: ${l.job ? `job "${l.job}" ` : ''}${l.destination} (${l.location}) could not be listed: ${l.error}\n`);
  return failed.length ? 1 : 0;
}

function jsonListing(l: Listing) {
  return {
    job: l.job,
    destination: l.destination,
    location: l.location,
    error: l.error,
    backups: l.backups.map((b) => ({
      name: b.name,
      key: b.key,
      location: b.location,
      time: b.time,
      size: b.size,
      sha256: b.manifest?.backup.sha256,
      databases: b.manifest?.databases,
      binlog: b.manifest?.binlog,
      compressed: b.compressed,
      compression: b.compression,
      encrypted: b.encrypted,
      marked: b.marked,
      manifest: b.manifest ? true : false,
      manifestError: b.manifestError,
      verified: b.verify ? { ok: b.verify.ok, at: b.verify.at, differences: b.verify.differences.length } : undefined,
    })),
  };
}

function age(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  if (s < 172800) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}

function render(l: Listing): string {
  const head = `${l.job ? `job "${l.job}" ` : ''}${l.destination === l.location ? l.location : `${l.destination}: ${l.location}`}\n`;
  if (l.error) return `${head}  (could not be listed)\n\n`;
  if (!l.backups.length) return `${head}  no backups\n\n`;
  const rows = l.backups.map((b) => [
    b.time ? b.time.replace('T', ' ').replace(/\.\d{3}Z$/, 'Z') : '?',
    b.name,
    formatBytes(b.size),
    b.manifest ? b.manifest.backup.sha256.slice(0, 12) : b.manifestError ? 'bad manifest' : '-',
    b.manifest?.databases?.join(',') ?? '-',
    b.manifest?.binlog ? `${b.manifest.binlog.file}:${b.manifest.binlog.position}` : '-',
    b.encrypted ? 'age' : '-',
    b.marked ? 'keep' : '-',
    b.verify ? `${b.verify.ok ? 'ok' : 'FAILED'} ${age(b.verify.at)}` : 'never',
  ]);
  return head + table(['TIME', 'NAME', 'SIZE', 'SHA256', 'DATABASES', 'BINLOG', 'ENC', 'MARK', 'VERIFIED'], rows) + '\n';
}
