import type { Command } from 'commander';
import { addGlobalOptions, action, configPath, examples, globals, loadConfigFor, type GlobalOptions } from './common.js';
import { selectJobs } from './jobs-select.js';
import { prepareJob } from '../jobs/job.js';
import { listJobBackups } from '../jobs/recoverability.js';
import { KEEP_SUFFIX, putJson } from '../jobs/manifest.js';
import { silentLogger } from '../util/logger.js';
import { UsageError, errorMessage } from '../util/errors.js';

export interface MarkFlags extends GlobalOptions {
  job?: string[];
  keep?: boolean;
}

export function register(program: Command): void {
  const cmd = program
    .command('mark')
    .argument('<backup>', 'the backup\'s file name, as `onedump ls -c` shows it')
    .description('mark a backup permanent (--keep: retention and prune never delete it) or unmark it (--no-keep), at every destination of the job that has it')
    .option('--job <name>', 'the job the backup belongs to (needed when the config has several)')
    .option('--keep', 'keep this backup whatever keep: says (stores NAME.keep beside it)')
    .option('--no-keep', 'remove the mark: retention treats the backup as any other again');
  addGlobalOptions(cmd);
  cmd.addHelpText(
    'after',
    examples(
      'onedump mark -c jobs.yml --job app 20261201030000-app.sql.gz --keep       keep the month-end backup forever',
      'onedump mark -c jobs.yml --job app 20261201030000-app.sql.gz --no-keep    let retention have it again',
    ),
  );
  cmd.action(
    action(async (backup: string, _opts: unknown, c: Command) => {
      const g = globals(c) as MarkFlags & { job?: string | string[] };
      return runMarkCommand(backup, { ...g, job: g.job === undefined ? undefined : ([] as string[]).concat(g.job) });
    }),
  );
}

export async function runMarkCommand(backup: string, flags: MarkFlags): Promise<number> {
  if (flags.keep === undefined) throw new UsageError('give --keep (mark the backup permanent) or --no-keep (remove the mark).');
  if (backup.includes('/')) throw new UsageError(`give the backup's file name (e.g. ${backup.split('/').pop()}), not a path.`);
  const loaded = await loadConfigFor(configPath(flags)!);
  const jobs = selectJobs(loaded, flags.job);
  if (jobs.length > 1) throw new UsageError(`the config has ${jobs.length} jobs: say which with --job (${jobs.map((j) => j.name).join(', ')}).`);
  const job = jobs[0]!;
  const p = prepareJob(job, loaded.dsns.get(job.name)!, silentLogger);
  const listings = await listJobBackups(p);
  const results: Array<{ destination: string; location: string; changed: boolean; error?: string }> = [];
  for (const l of listings) {
    if (l.error) {
      results.push({ destination: l.destination, location: l.location, changed: false, error: l.error });
      continue;
    }
    const b = l.backups.find((x) => x.name === backup);
    if (!b) continue;
    const t = p.targets.find((x) => x.name === l.destination)!;
    const d = t.build();
    try {
      let changed = b.marked !== flags.keep;
      if (flags.keep && !b.marked) await putJson(d.storage, b.key + KEEP_SUFFIX, { format: 'onedump-keep-mark', version: 1, backup: b.name, at: new Date().toISOString() });
      else if (!flags.keep && b.marked) await d.storage.delete(b.key + KEEP_SUFFIX);
      else changed = false;
      results.push({ destination: l.destination, location: b.location, changed });
    } catch (err) {
      results.push({ destination: l.destination, location: b.location, changed: false, error: errorMessage(err) });
    } finally {
      await d.storage.close?.();
    }
  }
  const failed = results.filter((r) => r.error);
  if (!results.length) {
    throw new UsageError(`job "${job.name}" has no backup named "${backup}" at any destination (see onedump ls -c ${configPath(flags)} --job ${job.name}).`);
  }
  if (flags.json) process.stdout.write(JSON.stringify({ ok: !failed.length, job: job.name, backup, keep: flags.keep, destinations: results }, null, 2) + '\n');
  else {
    for (const r of results.filter((x) => !x.error)) {
      process.stdout.write(`${r.location}: ${flags.keep ? (r.changed ? 'marked --keep' : 'already marked --keep') : r.changed ? 'mark removed' : 'was not marked'}\n`);
    }
  }
  for (const r of failed) process.stderr.write(`onedump: job "${job.name}" ${r.destination} (${r.location}): ${r.error}\n`);
  return failed.length ? 1 : 0;
}
