import { stat } from 'node:fs/promises';
import { Command } from 'commander';
import { addGlobalOptions, action, configPath, examples, globals, loadConfigFor, loggerFor, type GlobalOptions } from './common.js';
import { TransferProgress } from './transfer-progress.js';
import { storageFromUrl, backendByKind } from '../storage/registry.js';
import type { Storage } from '../storage/types.js';
import type { Logger } from '../util/logger.js';
import { UsageError, OnedumpError } from '../util/errors.js';
import { formatBytes, formatDuration } from '../util/duration.js';
import { listSource } from '../sync/source.js';
import { defaultStatePath } from '../sync/state.js';
import { runSync, type SyncResult, type SyncEvents } from '../sync/engine.js';
import { parseModeFlag } from '../storage/mode.js';

export function intOption(name: string, min: number) {
  return (v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`${name} must be a whole number of at least ${min} (got "${v}").`);
    return Number(v);
  };
}

/** The Go tool's boolean flags accept `--flag`, `--flag=true` and `--flag=false`. */
export function goBool(name: string) {
  return (v: string | boolean | undefined): boolean => {
    if (v === undefined || v === true) return true;
    const s = String(v).toLowerCase();
    if (['true', '1', 't', 'yes'].includes(s)) return true;
    if (['false', '0', 'f', 'no'].includes(s)) return false;
    throw new UsageError(`${name} takes true or false (got "${v}").`);
  };
}

/** `--max-attempts`: 0 means until it works (the Go tool's default). */
export function attemptsOf(n: number | undefined, dflt: number): number {
  if (n === undefined) return dflt;
  return n === 0 ? Infinity : n;
}

export interface SyncFlags extends GlobalOptions {
  pattern?: string;
  recursive?: boolean;
  storage?: string;
  checksum?: boolean;
  checksumFile?: string;
  parallel?: number;
  maxAttempts?: number;
  append?: boolean;
  deleteSourceAfter?: boolean;
  sshKey?: string;
  mode?: number;
}

/** `--mode` sets permission bits: only local and SFTP destinations have them. */
function checkModeTarget(flags: SyncFlags, storage: Storage): void {
  if (flags.mode !== undefined && storage.kind !== 'local' && storage.kind !== 'sftp') {
    throw new UsageError(`--mode applies to local and sftp destinations only; ${storage.describe()} is ${storage.kind} storage.`);
  }
}

/** Whether a destination key names a folder. */
async function destIsFolder(storage: Storage, key: string, spec: string): Promise<boolean | undefined> {
  if (key === '' || key.endsWith('/') || spec.endsWith('/')) return true;
  const st = await storage.stat(key);
  if (st) return false;
  // Backends that can tell a folder from nothing (SFTP) say so; a retrying wrapper is looked through.
  type Probe = Storage & { isFolder?(key: string): Promise<boolean>; inner?: Probe };
  const probe = storage as Probe;
  const folderCheck = probe.isFolder ? probe : probe.inner?.isFolder ? probe.inner : undefined;
  if (folderCheck) return folderCheck.isFolder!(key);
  if (storage.kind === 'local') {
    const s = await stat(storage.describe(key)).catch(() => undefined);
    if (s) return s.isDirectory();
  }
  for await (const o of storage.list(key + '/')) if (o) return true;
  return undefined;
}

/** `--storage JOB.KIND[N]`: the N-th (default first) KIND storage of a job in the config; files go into its folder. */
async function storageFromConfig(name: string, g: GlobalOptions, log: Logger): Promise<{ storage: Storage; prefix: string }> {
  const m = /^(.+)\.([a-z][a-z0-9]*)(?:\[(\d+)\])?$/.exec(name);
  if (!m) throw new UsageError(`--storage "${name}" is not of the form JOB.KIND or JOB.KIND[N] (e.g. app.s3 or app.sftp[1]).`);
  const [, jobName, kind, idx] = m as unknown as [string, string, string, string | undefined];
  const cfg = await loadConfigFor(configPath(g)!);
  const job = cfg.config.jobs.find((j) => j.name === jobName);
  if (!job) throw new UsageError(`--storage ${name}: the config has no job "${jobName}" (jobs: ${cfg.config.jobs.map((j) => j.name).join(', ')}).`);
  const entries = ((job.storage ?? {}) as Record<string, unknown[] | undefined>)[kind] ?? [];
  const i = idx === undefined ? 0 : Number(idx);
  const entry = entries[i];
  if (!entry) throw new UsageError(`--storage ${name}: job "${jobName}" has no ${kind}[${i}] storage (it has ${entries.length}).`);
  const t = backendByKind(kind).fromConfig(entry, { log });
  return { storage: t.storage, prefix: t.key.slice(0, t.key.lastIndexOf('/') + 1) };
}

export interface PreparedSync {
  storage: Storage;
  files: Array<{ path: string; rel: string; size: number; mtimeMs: number; key: string }>;
  stateFile: string;
  where: string;
}

/** Lists the source and maps each file to its destination key (the Go tool's folder/file rules). */
export async function prepareSync(
  source: string,
  target: { storage: Storage; key: string; spec: string; forceFolder?: boolean },
  opts: { pattern?: string; recursive?: boolean; checksumFile?: string; exclude?: string[] },
): Promise<PreparedSync> {
  const src = await listSource({ source, pattern: opts.pattern, recursive: opts.recursive, exclude: opts.exclude });
  const { storage, key } = target;
  const folder = target.forceFolder || (await destIsFolder(storage, key, target.spec));
  if (src.isFolder && folder === false) {
    throw new UsageError(`destination ${storage.describe(key)} is a file, but the source ${source} is a folder; give a destination folder (end it with /).`);
  }
  if (src.isFolder && src.files.length === 0) {
    throw new OnedumpError(`no file found for syncing in ${src.folder}${opts.pattern ? ` matching "${opts.pattern}"` : ''}.`);
  }
  const prefix = key === '' ? '' : key.endsWith('/') ? key : `${key}/`;
  const files = src.files.map((f) => ({ ...f, key: src.isFolder || folder ? prefix + f.rel : key }));
  return { storage, files, stateFile: defaultStatePath(src.folder, opts.checksumFile), where: storage.describe(src.isFolder || folder ? key : files[0]!.key) };
}

/** Wires engine events to the progress display and the log. */
export function syncEvents(progress: TransferProgress, log: Logger): SyncEvents {
  return {
    onPlan: (files) => {
      const send = files.filter((f) => f.action === 'send');
      for (const f of files) log.debug({ file: f.path, dest: f.key, action: f.action }, f.reason);
      progress.plan(send.length, send.reduce((a, f) => a + f.size, 0));
    },
    onStart: (f) => progress.start(f.rel, f.size),
    onProgress: (f, n) => progress.progress(f.rel, n),
    onDone: (f, r) => {
      progress.done(f.rel, r.size);
      log.debug({ file: f.path, location: r.location, bytes: r.size, attempts: r.attempts }, 'sent');
    },
    onFail: (f, error) => {
      progress.fail(f.rel);
      log.error({ file: f.path }, error);
    },
  };
}

export function printSyncResult(r: SyncResult, g: GlobalOptions, where: string, describe: (key: string) => string = (k) => k): number {
  const code = r.failed.length ? 1 : 0;
  if (g.json) {
    process.stdout.write(
      JSON.stringify({
        ok: code === 0,
        dry_run: Boolean(g.dryRun),
        destination: where,
        sent: r.sent.length,
        skipped: r.skipped.length,
        failed: r.failed.length,
        bytes: r.bytes,
        duration_ms: r.durationMs,
        state_file: r.stateFile,
        files: {
          sent: r.sent.map((s) => ({ path: s.path, key: s.key, size: s.size, sha256: s.sha256 })),
          skipped: r.skipped.map((s) => ({ path: s.path, key: s.key, reason: s.reason })),
          failed: r.failed,
          ...(g.dryRun ? { planned: r.planned.map((p) => ({ path: p.path, key: p.key, action: p.action, reason: p.reason, size: p.size })) } : {}),
        },
      }) + '\n',
    );
    return code;
  }
  if (g.dryRun) {
    for (const p of r.planned) process.stdout.write(`${p.action === 'send' ? 'would send' : 'would skip'}  ${p.rel} → ${describe(p.key)}  (${p.reason})\n`);
    const send = r.planned.filter((p) => p.action === 'send');
    process.stdout.write(`dry run: ${send.length} file(s), ${formatBytes(send.reduce((a, p) => a + p.size, 0))} would be sent to ${where}; ${r.skipped.length} skipped.\n`);
    return 0;
  }
  for (const f of r.failed) process.stderr.write(`onedump: ${f.error}\n`);
  const rate = r.durationMs > 0 ? ` (${formatBytes((r.bytes / r.durationMs) * 1000)}/s)` : '';
  process.stdout.write(
    `sent ${r.sent.length} file(s), ${formatBytes(r.bytes)} in ${formatDuration(r.durationMs)}${rate} to ${where}; ${r.skipped.length} skipped${r.failed.length ? `, ${r.failed.length} failed` : ''}.\n`,
  );
  return code;
}

interface RunArgs {
  source: string;
  target: { storage: Storage; key: string; spec: string; forceFolder?: boolean };
  flags: SyncFlags;
  g: GlobalOptions;
  log: Logger;
  defaultAttempts: number;
}

export async function runSyncCommand(a: RunArgs): Promise<number> {
  const { flags, g, log } = a;
  const progress = new TransferProgress(log, 'sync:');
  try {
    checkModeTarget(flags, a.target.storage);
    const prep = await prepareSync(a.source, a.target, { pattern: flags.pattern, recursive: flags.recursive, checksumFile: flags.checksumFile });
    const result = await runSync({
      storage: prep.storage,
      files: prep.files,
      checksum: Boolean(flags.checksum),
      stateFile: prep.stateFile,
      parallel: flags.parallel ?? 10,
      maxAttempts: attemptsOf(flags.maxAttempts, a.defaultAttempts),
      resume: Boolean(flags.append),
      deleteSourceAfter: Boolean(flags.deleteSourceAfter),
      mode: flags.mode,
      dryRun: Boolean(g.dryRun),
      log,
      events: syncEvents(progress, log),
    });
    progress.stop();
    return printSyncResult(result, g, prep.where, (k) => prep.storage.describe(k));
  } finally {
    progress.stop();
    await a.target.storage.close?.();
  }
}

export function register(program: Command): void {
  const cmd = program
    .command('sync')
    .description('checksum-based, resumable, parallel file sync of a file or folder to any storage')
    .argument('<source>', 'a file or a folder')
    .argument('[destination]', 'storage URL or path (file:///…, s3://bucket/prefix/?region=…, sftp://user@host:port/path/, gdrive://FOLDER/, dropbox:///path/)')
    .option('--storage <JOB.KIND[N]>', 'destination from the config: the N-th (default first) KIND storage of job JOB, e.g. app.s3 or app.sftp[1]; files go into its folder')
    .option('-p, --pattern <glob>', 'only files whose name matches (or whose relative path, when the glob has a /), e.g. "binlog.*" or "**/*.sql.gz"')
    .option('-r, --recursive', 'include files in sub-folders (kept as relative paths)')
    .option('--checksum', 'skip files already transferred (sha256 recorded in checksum.onedump in the source folder); without it the state file is removed')
    .option('--checksum-file <path>', 'keep the checksum state in this file instead')
    .option('--parallel <n>', 'files in flight (default 10)', intOption('--parallel', 1))
    .option('--max-attempts <n>', 'tries per file on transient faults (default 8; 0 = until it works)', intOption('--max-attempts', 0))
    .option('--append', 'resume partial uploads the destination kept (the Go tool\'s flag; SFTP)')
    .option('--delete-source-after', 'remove each source file once its copy is verified (a one-way move)')
    .option('--mode <octal>', 'permission bits of the files written at a local or sftp destination, e.g. 0640 (default: 0666 less the umask, for sftp the server\'s, as the Go tool)', parseModeFlag('--mode'))
    .option('--ssh-key <path>', 'private key for sftp:// destinations (default: ~/.ssh/id_ed25519, id_ecdsa, id_rsa)');
  addGlobalOptions(cmd);
  cmd.addHelpText(
    'after',
    examples(
      'onedump sync /var/backups/ /mnt/nas/backups/ --checksum',
      'onedump sync /var/backups/ "s3://my-bucket/backups/?region=ap-southeast-2" --recursive --checksum',
      'onedump sync /var/lib/mysql/ sftp://backup@nas.example.com:2222/srv/binlogs/ --pattern "mysql-bin.*" --checksum',
      'onedump sync ./exports/ --storage app.s3 -c jobs.yml --checksum --delete-source-after',
      'onedump sync ./exports/ s3://b/exports/ --dry-run      list what would be sent and why',
    ),
  );
  cmd.action(
    action(async (source: string, destination: string | undefined, flags: SyncFlags, c: Command) => {
      const g = { ...globals(c), ...flags };
      const log = loggerFor(g);
      if (destination && flags.storage) throw new UsageError('give a destination URL or --storage, not both.');
      let target: RunArgs['target'];
      if (flags.storage) {
        const t = await storageFromConfig(flags.storage, g, log);
        target = { storage: t.storage, key: t.prefix, spec: t.prefix, forceFolder: true };
      } else if (destination) {
        const t = storageFromUrl(destination, { log }, flags.sshKey ? { sshkey: flags.sshKey } : undefined);
        target = { storage: t.storage, key: t.key, spec: destination };
      } else {
        throw new UsageError('missing destination: give a storage URL or path, or --storage JOB.KIND (run onedump sync --help).');
      }
      return runSyncCommand({ source, target, flags, g, log, defaultAttempts: 8 });
    }),
  );

  // The Go tool's form, on the same engine.
  const sftp = cmd
    .command('sftp')
    .description('the Go tool\'s resumable and concurrent SFTP transfer')
    .requiredOption('-s, --source <path>', 'the source file, or a folder (its files, not sub-folders, are sent)')
    .requiredOption('-d, --destination <path>', 'the remote file path, or a folder')
    .requiredOption('--ssh-host <host[:port]>', 'the remote SSH host, optionally with :port')
    .requiredOption('--ssh-user <user>', 'the remote SSH user')
    .requiredOption('--ssh-key <key>', 'the private key: a file path, base64 of the key, or the key itself (prefer a path: argv is visible in ps)')
    .option('--append [bool]', 'resume a partial remote file instead of starting again', goBool('--append'))
    .option('--checksum [bool]', 'skip files already transferred (checksum.onedump in the source folder)', goBool('--checksum'))
    .option('--checksum-file <path>', 'keep the checksum state in this file instead')
    .option('--max-attempts <n>', 'tries per file on recoverable errors; 0 (default) = until it works', intOption('--max-attempts', 0))
    .option('-p, --pattern <glob>', 'only files whose name matches, e.g. "binlog.*"')
    .option('--parallel <n>', 'files in flight (default 10)', intOption('--parallel', 1))
    .option('--mode <octal>', 'permission bits of the remote files, e.g. 0640 (default: 0666 less the server\'s umask, as the Go tool)', parseModeFlag('--mode'));
  addGlobalOptions(sftp);
  sftp.addHelpText(
    'after',
    examples(
      'onedump sync sftp --source=/path/to/file.txt --destination=/var/lib/mysql --ssh-host=remote.com --ssh-user=root --ssh-key=~/.ssh/id_ed25519',
      'onedump sync sftp -s /path/to/folder/ -d /backups --ssh-host=remote.com:2222 --ssh-user=root --ssh-key=/keys/id_rsa --checksum=true',
    ),
  );
  sftp.action(
    action(async (flags: SyncFlags & { source: string; destination: string; sshHost: string; sshUser: string }, c: Command) => {
      const g = { ...globals(c), ...flags };
      const log = loggerFor(g);
      const maxattempts = flags.maxAttempts ?? 0;
      const t = backendByKind('sftp').fromConfig(
        { path: flags.destination, sshhost: flags.sshHost, sshuser: flags.sshUser, sshkey: flags.sshKey, ...(maxattempts ? { maxattempts } : {}) },
        { log },
      );
      return runSyncCommand({
        source: flags.source,
        target: { storage: t.storage, key: t.key, spec: flags.destination },
        flags: { ...flags, recursive: false },
        g,
        log,
        defaultAttempts: Infinity,
      });
    }),
  );
}
