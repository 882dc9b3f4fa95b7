import type { Command } from 'commander';
import { addGlobalOptions, action, configPath, examples, globals, loadConfigFor, loggerFor, type GlobalOptions } from './common.js';
import { selectJobs } from './jobs-select.js';
import { prepareJob } from '../jobs/job.js';
import { pruneJob, type JobPruneResult } from '../jobs/recoverability.js';
import { describeKeep, type KeepPolicy } from '../config/fields.js';
import { silentLogger } from '../util/logger.js';

export interface PruneFlags extends GlobalOptions {
  job?: string[];
}

export function register(program: Command): void {
  const cmd = program
    .command('prune')
    .description("apply the jobs' retention now (keep: at each destination, then the binlogs no kept dump needs); --dry-run prints what would be deleted and why")
    .option('--job <name...>', 'only these jobs');
  addGlobalOptions(cmd);
  cmd.addHelpText(
    'after',
    examples(
      'onedump prune -c jobs.yml --dry-run                what would go, per destination, and which tier keeps what',
      'onedump prune -c jobs.yml --job app-nightly        apply it to one job',
      'onedump prune -c jobs.yml --dry-run --json         ... for scripts',
    ),
  );
  cmd.action(action(async (_opts: unknown, c: Command) => runPruneCommand(globals(c) as PruneFlags)));
}

export async function runPruneCommand(flags: PruneFlags): Promise<number> {
  const loaded = await loadConfigFor(configPath(flags)!);
  const jobs = selectJobs(loaded, flags.job);
  // The plan goes to stdout; the log (what was deleted) to stderr, quiet unless asked.
  const log = flags.logLevel || flags.verbose ? loggerFor(flags) : silentLogger;
  const results: JobPruneResult[] = [];
  for (const job of jobs) {
    const p = prepareJob(job, loaded.dsns.get(job.name)!, log);
    results.push(await pruneJob(p, { dryRun: Boolean(flags.dryRun), log }));
  }
  const failed = results.some((r) => r.destinations.some((d) => d.error) || r.binlogs?.error);
  if (flags.json) {
    process.stdout.write(JSON.stringify({ ok: !failed, dryRun: Boolean(flags.dryRun), jobs: results.map(jsonResult) }, null, 2) + '\n');
  } else {
    for (const r of results) process.stdout.write(render(r, Boolean(flags.dryRun)));
  }
  for (const r of results) {
    for (const d of r.destinations) if (d.error) process.stderr.write(`onedump: job "${r.job}" ${d.destination} (${d.location}): ${d.error}\n`);
    if (r.binlogs?.error) process.stderr.write(`onedump: job "${r.job}" binlogs (${r.binlogs.location}): ${r.binlogs.error}\n`);
  }
  return failed ? 1 : 0;
}

function jsonResult(r: JobPruneResult) {
  return {
    job: r.job,
    destinations: r.destinations.map((d) => ({
      destination: d.destination,
      location: d.location,
      keep: d.keep,
      error: d.error,
      backups: d.decisions.map((x) => ({ name: x.name, time: x.time, keep: x.keep, reasons: x.reasons })),
      deleted: d.deleted.map((k) => k.split('/').pop()),
    })),
    binlogs: r.binlogs
      ? { location: r.binlogs.location, needed: r.binlogs.needed, delete: r.binlogs.delete.map((f) => ({ name: f.name, reason: f.reason })), notes: r.binlogs.notes, error: r.binlogs.error }
      : undefined,
  };
}

function render(r: JobPruneResult, dryRun: boolean): string {
  const verb = dryRun ? 'would delete' : 'deleted';
  let out = '';
  for (const d of r.destinations) {
    out += `job "${r.job}" ${d.destination}: ${d.location}${d.keep ? ` (${describeKeep(d.keep as KeepPolicy)})` : ' (no keep:)'}\n`;
    if (d.error) {
      out += '  (could not be listed)\n\n';
      continue;
    }
    if (!d.decisions.length) out += '  no backups\n';
    const sorted = [...d.decisions].sort((a, b) => (b.time ?? '').localeCompare(a.time ?? '') || b.name.localeCompare(a.name));
    const w = Math.max(...sorted.map((x) => x.name.length), 0);
    for (const x of sorted) out += `  ${(x.keep ? 'keep' : verb).padEnd(12)} ${x.name.padEnd(w)}  ${x.reasons.join('; ')}\n`;
    out += `  ${d.deleted.length} ${verb}, ${d.decisions.length - d.deleted.length} kept\n\n`;
  }
  const b = r.binlogs;
  if (b) {
    out += `job "${r.job}" binlogs: ${b.location}\n`;
    if (b.error) out += `  ${b.error}\n`;
    for (const n of b.needed) out += `  keep         ${n.file} and after: the oldest kept dump (${n.dump}) starts there\n`;
    for (const n of b.notes) out += `  ${n}\n`;
    for (const f of b.delete) out += `  ${verb.padEnd(12)} ${f.name}  ${f.reason}\n`;
    out += `  ${b.delete.length} binlog file(s) ${verb}\n\n`;
  }
  return out;
}
