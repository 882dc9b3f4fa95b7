import { Command } from 'commander';
import { addGlobalOptions, action, examples, globals, loggerFor, type GlobalOptions } from './common.js';
import { TransferProgress } from './transfer-progress.js';
import { intOption, attemptsOf } from './sync.js';
import { storageFromUrl } from '../storage/registry.js';
import { S3Storage } from '../storage/s3.js';
import { withRetries } from '../storage/retrying.js';
import { parseModeFlag } from '../storage/mode.js';
import type { Storage } from '../storage/types.js';
import type { Logger } from '../util/logger.js';
import { formatBytes, formatDuration } from '../util/duration.js';
import { UsageError } from '../util/errors.js';
import { runDownload, type DownloadResult } from '../sync/download.js';

interface DownloadFlags extends GlobalOptions {
  parallel?: number;
  maxAttempts?: number;
  sshKey?: string;
  mode?: number;
}

/** What to list and how keys become file names: our form (a folder or an object) or the Go tool's raw prefix. */
interface Source {
  storage: Storage;
  key: string;
  /** The Go tool's `download s3 --prefix`: `key` is a raw key prefix and names follow goDownloadPath. */
  goPrefix?: { bucket: string; prefix: string };
}

function print(r: DownloadResult, g: GlobalOptions, from: string, dir: string): number {
  const code = r.failed.length ? 1 : 0;
  if (g.json) {
    process.stdout.write(
      JSON.stringify({
        ok: code === 0,
        dry_run: Boolean(g.dryRun),
        source: from,
        dir,
        downloaded: r.downloaded.length,
        skipped: r.skipped.length,
        failed: r.failed.length,
        bytes: r.bytes,
        duration_ms: r.durationMs,
        files: {
          downloaded: r.downloaded.map((d) => ({ key: d.key, path: d.path, size: d.size })),
          skipped: r.skipped.map((d) => ({ key: d.key, path: d.path, reason: d.reason })),
          failed: r.failed,
        },
      }) + '\n',
    );
    return code;
  }
  if (g.dryRun) {
    for (const p of r.planned) process.stdout.write(`${p.action === 'download' ? 'would download' : 'would skip'}  ${p.key} → ${p.path}  (${p.reason})\n`);
    return 0;
  }
  for (const f of r.failed) process.stderr.write(`onedump: ${f.error}\n`);
  process.stdout.write(
    `downloaded ${r.downloaded.length} file(s), ${formatBytes(r.bytes)} in ${formatDuration(r.durationMs)} from ${from} to ${dir}; ${r.skipped.length} already identical${r.failed.length ? `, ${r.failed.length} failed` : ''}.\n`,
  );
  return code;
}

async function run(src: Source, dir: string, flags: DownloadFlags, g: GlobalOptions, log: Logger): Promise<number> {
  const { storage, key } = src;
  const progress = new TransferProgress(log, 'download:');
  try {
    // Our form: a key that is not a folder-style prefix is a single object if it exists, else the folder of that name.
    let prefix = key;
    if (!src.goPrefix && key !== '' && !key.endsWith('/')) {
      const st = await storage.stat(key).catch(() => undefined);
      if (!st) prefix = `${key}/`;
    }
    const result = await runDownload({
      storage,
      prefix,
      naming: src.goPrefix ? 'prefix' : 'folder',
      mode: flags.mode,
      dir,
      parallel: flags.parallel ?? 10,
      maxAttempts: attemptsOf(flags.maxAttempts, 8),
      dryRun: Boolean(g.dryRun),
      log,
      events: {
        onPlan: (items) => {
          const todo = items.filter((i) => i.action === 'download');
          progress.plan(todo.length, todo.reduce((a, i) => a + i.size, 0));
        },
        onStart: (i) => progress.start(i.rel, i.size),
        onProgress: (i, n) => progress.progress(i.rel, n),
        onDone: (i) => progress.done(i.rel, i.size),
        onFail: (i, e) => {
          progress.fail(i.rel);
          log.error({ key: i.key }, e);
        },
      },
    });
    progress.stop();
    if (result.planned.length === 0) process.stderr.write(`onedump: ${await nothingFound(src, storage.describe(prefix))}\n`);
    return print(result, g, storage.describe(prefix), dir);
  } finally {
    progress.stop();
    await storage.close?.();
  }
}

/**
 * The warning for a prefix that matched nothing (not an error: the Go tool exits 0 too). A Go-form prefix with a leading
 * '/' is a raw key prefix there as here, so `/binlogs/` finds only keys that begin with '/': say so when the same
 * prefix without it would find something.
 */
async function nothingFound(src: Source, where: string): Promise<string> {
  const go = src.goPrefix;
  if (go && go.prefix.startsWith('/')) {
    const bare = go.prefix.replace(/^\/+/, '');
    const probe = new S3Storage({ bucket: go.bucket, prefix: '' });
    try {
      for await (const o of probe.list(bare)) {
        if (o) return `nothing to download: no key in bucket ${go.bucket} starts with "${go.prefix}", but some start with "${bare}" (S3 keys seldom begin with "/"); use --prefix ${bare}.`;
      }
    } catch {
      /* the hint is optional */
    } finally {
      await probe.close();
    }
  }
  return go ? `nothing to download: no key in bucket ${go.bucket} starts with "${go.prefix}".` : `nothing to download: no object under ${where}.`;
}

export function register(program: Command): void {
  const cmd = program
    .command('download')
    .description('download every object under a prefix from a storage, in parallel, keeping relative paths')
    .argument('<source>', 'storage URL of a prefix or an object (s3://bucket/prefix/, sftp://user@host/path/, file:///path/, gdrive://FOLDER/, dropbox:///path/)')
    .argument('<dir>', 'local folder to write into (created if missing)')
    .option('--parallel <n>', 'files in flight (default 10)', intOption('--parallel', 1))
    .option('--max-attempts <n>', 'tries per file on transient faults (default 8; 0 = until it works)', intOption('--max-attempts', 0))
    .option('--mode <octal>', 'permission bits of the files written, e.g. 0640 (default: 0666 less the umask, as the Go tool)', parseModeFlag('--mode'))
    .option('--ssh-key <path>', 'private key for sftp:// sources');
  addGlobalOptions(cmd);
  cmd.addHelpText(
    'after',
    examples(
      'onedump download "s3://my-bucket/binlogs/?region=ap-southeast-2" /restore/binlogs',
      'onedump download sftp://backup@nas:2222/srv/backups/ ./backups --parallel 4',
      'onedump download s3://my-bucket/binlogs/ ./binlogs --dry-run   list what would be fetched',
      'onedump download s3 --bucket my-bucket --prefix binlogs --dir ./binlogs   the Go tool\'s form',
    ),
  );
  cmd.action(
    action(async (source: string, dir: string, flags: DownloadFlags, c: Command) => {
      const g = { ...globals(c), ...flags };
      const log = loggerFor(g);
      const t = storageFromUrl(source, { log }, flags.sshKey ? { sshkey: flags.sshKey } : undefined);
      return run(t, dir, flags, g, log);
    }),
  );

  const s3 = cmd
    .command('s3')
    .description('the Go tool\'s form: download the objects under a prefix of an S3 bucket (AWS_REGION and credentials from the environment)')
    .requiredOption('-b, --bucket <bucket>', 'the S3 bucket')
    .requiredOption('-p, --prefix <prefix>', 'the key prefix, as S3 matches it: binlogs/ (a folder), binlogs/mysql-bin.0000 (the start of names); "" = the whole bucket')
    .requiredOption('-d, --dir <dir>', 'local folder to write into; each file is named by its key without the prefix')
    .option('--parallel <n>', 'files in flight (default 10)', intOption('--parallel', 1))
    .option('--max-attempts <n>', 'tries per file on transient faults (default 8; 0 = until it works)', intOption('--max-attempts', 0))
    .option('--mode <octal>', 'permission bits of the files written, e.g. 0640 (default: 0666 less the umask, as the Go tool)', parseModeFlag('--mode'));
  addGlobalOptions(s3);
  s3.addHelpText(
    'after',
    examples(
      'AWS_REGION=ap-southeast-2 onedump download s3 --bucket my-backups --prefix binlogs/ --dir /restore/binlogs',
      'onedump download s3 -b my-backups -p db/2026-11 -d ./restore --parallel 4',
      'onedump download s3 -b my-backups -p binlogs/mysql-bin.0001 -d ./binlogs   binlogs/mysql-bin.000100 to …000199',
    ),
  );
  s3.action(
    action(async (flags: DownloadFlags & { bucket: string; prefix: string; dir: string }, c: Command) => {
      const g = { ...globals(c), ...flags };
      const log = loggerFor(g);
      if (!flags.bucket) throw new UsageError('--bucket must not be empty.');
      // The Go tool lists the bucket with the prefix exactly as given (ListObjectsV2 Prefix): no '/' added or removed.
      // The storage is rooted at the prefix's folder part, which may begin with '/' (S3 keys may).
      const prefix = flags.prefix;
      const root = prefix.slice(0, prefix.lastIndexOf('/') + 1);
      const storage = withRetries(new S3Storage({ bucket: flags.bucket, prefix: root, log }), { log });
      return run({ storage, key: prefix.slice(root.length), goPrefix: { bucket: flags.bucket, prefix } }, flags.dir, flags, g, log);
    }),
  );
}
