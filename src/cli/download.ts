import { Command } from 'commander';
import { addGlobalOptions, action, examples, globals, loggerFor, type GlobalOptions } from './common.js';
import { TransferProgress } from './transfer-progress.js';
import { intOption, attemptsOf } from './sync.js';
import { storageFromUrl } from '../storage/registry.js';
import type { Storage } from '../storage/types.js';
import type { Logger } from '../util/logger.js';
import { formatBytes, formatDuration } from '../util/duration.js';
import { runDownload, type DownloadResult } from '../sync/download.js';

interface DownloadFlags extends GlobalOptions {
  parallel?: number;
  maxAttempts?: number;
  sshKey?: string;
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

async function run(storage: Storage, key: string, dir: string, flags: DownloadFlags, g: GlobalOptions, log: Logger): Promise<number> {
  const progress = new TransferProgress(log, 'download:');
  try {
    // A key that is not a folder-style prefix: a single object if it exists, else the folder of that name.
    let prefix = key;
    if (key !== '' && !key.endsWith('/')) {
      const st = await storage.stat(key).catch(() => undefined);
      if (!st) prefix = `${key}/`;
    }
    const result = await runDownload({
      storage,
      prefix,
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
    return print(result, g, storage.describe(prefix), dir);
  } finally {
    progress.stop();
    await storage.close?.();
  }
}

export function register(program: Command): void {
  const cmd = program
    .command('download')
    .description('download every object under a prefix from a storage, in parallel, keeping relative paths')
    .argument('<source>', 'storage URL of a prefix or an object (s3://bucket/prefix/, sftp://user@host/path/, file:///path/, gdrive://FOLDER/, dropbox:///path/)')
    .argument('<dir>', 'local folder to write into (created if missing)')
    .option('--parallel <n>', 'files in flight (default 10)', intOption('--parallel', 1))
    .option('--max-attempts <n>', 'tries per file on transient faults (default 12; 0 = until it works)', intOption('--max-attempts', 0))
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
      return run(t.storage, t.key, dir, flags, g, log);
    }),
  );

  const s3 = cmd
    .command('s3')
    .description('the Go tool\'s form: download the objects under a prefix of an S3 bucket (AWS_REGION and credentials from the environment)')
    .requiredOption('-b, --bucket <bucket>', 'the S3 bucket')
    .requiredOption('-p, --prefix <prefix>', 'the key prefix (folder)')
    .requiredOption('-d, --dir <dir>', 'local folder to write into')
    .option('--parallel <n>', 'files in flight (default 10)', intOption('--parallel', 1))
    .option('--max-attempts <n>', 'tries per file on transient faults (default 12; 0 = until it works)', intOption('--max-attempts', 0));
  addGlobalOptions(s3);
  s3.addHelpText(
    'after',
    examples(
      'AWS_REGION=ap-southeast-2 onedump download s3 --bucket my-backups --prefix binlogs/ --dir /restore/binlogs',
      'onedump download s3 -b my-backups -p db/2026-11 -d ./restore --parallel 4',
    ),
  );
  s3.action(
    action(async (flags: DownloadFlags & { bucket: string; prefix: string; dir: string }, c: Command) => {
      const g = { ...globals(c), ...flags };
      const log = loggerFor(g);
      const prefix = flags.prefix.replace(/^\/+/, '');
      const url = `s3://${encodeURIComponent(flags.bucket)}/${prefix.split('/').map(encodeURIComponent).join('/')}`;
      const t = storageFromUrl(url, { log });
      return run(t.storage, t.key, flags.dir, flags, g, log);
    }),
  );
}
