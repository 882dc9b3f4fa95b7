import type { Command } from 'commander';
import { addGlobalOptions, action, configPath, examples, globals, loadConfigFor, type GlobalOptions } from './common.js';
import { selectJobs } from './jobs-select.js';
import { prepareJob } from '../jobs/job.js';
import { jobStatus, type JobStatus } from '../jobs/recoverability.js';
import { silentLogger } from '../util/logger.js';

export interface StatusFlags extends GlobalOptions {
  job?: string[];
}


export function register(program: Command): void {
  const cmd = program
    .command('status')
    .description("per job, from what is on its destinations: the earliest and latest instant it can be restored to, the newest full backup, the binlog chain and any gap; exit 1 on a gap or when the latest instant is older than the job's maxlag")
    .option('--job <name...>', 'only these jobs');
  addGlobalOptions(cmd);
  cmd.addHelpText(
    'after',
    examples(
      'onedump status -c jobs.yml                  the recoverability window of every job',
      'onedump status -c jobs.yml --job app --json for monitoring (exit 1 on a gap or lag)',
    ),
  );
  cmd.action(action(async (_opts: unknown, c: Command) => runStatusCommand(globals(c) as StatusFlags)));
}

export async function runStatusCommand(flags: StatusFlags, now = new Date()): Promise<number> {
  const loaded = await loadConfigFor(configPath(flags)!);
  const out: JobStatus[] = [];
  for (const job of selectJobs(loaded, flags.job)) out.push(await jobStatus(prepareJob(job, loaded.dsns.get(job.name)!, silentLogger), now));
  const ok = out.every((s) => s.ok);
  if (flags.json) process.stdout.write(JSON.stringify({ ok, jobs: out }, null, 2) + '\n');
  else for (const s of out) process.stdout.write(render(s));
  return ok ? 0 : 1;
}

function render(s: JobStatus): string {
  let o = `job "${s.job}": ${s.ok ? 'ok' : 'PROBLEMS'}\n`;
  o += `  newest backup:  ${s.newestBackup ? `${s.newestBackup.location} (${s.newestBackup.time})` : 'none'}\n`;
  o += `  restorable:     ${s.earliest ? `${s.earliest} .. ${s.latest}` : 'nothing'}${s.maxlag ? ` (maxlag ${s.maxlag})` : ''}\n`;
  for (const w of s.windows ?? []) {
    o += `    window ${w.from} .. ${w.to}  from ${w.dump}${w.binlogs ? ` + ${w.binlogs.first} .. ${w.binlogs.last}` : ' (the dump only)'}\n`;
  }
  if (s.binlogs) {
    const c = s.chain ?? [];
    o += `  binlogs:        ${s.binlogs}: ${c.length ? `${c.length} file(s), ${c[0]!.name} .. ${c[c.length - 1]!.name}` : 'none'}\n`;
  }
  for (const n of s.notes ?? []) o += `  note: ${n}\n`;
  for (const p of s.problems) o += `  problem: ${p}\n`;
  return o + '\n';
}
