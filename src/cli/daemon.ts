import { configPath, loadConfigFor, loggerFor, type GlobalOptions } from './common.js';
import { startHealthServer } from '../jobs/health.js';
import { describeSchedule, jobSchedules, Scheduler } from '../jobs/scheduler.js';
import { selectJobs } from '../jobs/runner.js';
import { ConsoleNotifier } from '../notify/console.js';
import { createNotifiers } from '../notify/create.js';
import { errorMessage, UsageError } from '../util/errors.js';
import { parseDuration, formatDuration } from '../util/duration.js';
import { removeSecretFiles } from '../util/secret-file.js';

export interface DaemonFlags extends GlobalOptions {
  job?: string[];
  cron?: string;
  shutdownTimeout?: string;
  healthPort?: string;
  healthHost?: string;
}

export const DEFAULT_SHUTDOWN_TIMEOUT = '10m';

/**
 * `onedump --daemon -c FILE`: validates the config (exit 2 when it is bad), then runs the jobs on their schedules.
 * SIGINT/SIGTERM stop scheduling and wait up to --shutdown-timeout for running jobs before aborting them (a second
 * signal aborts at once); exit 0. SIGHUP reloads the config, keeping the old one if the new one is invalid.
 */
export async function runDaemonCommand(flags: DaemonFlags): Promise<number> {
  const log = loggerFor(flags);
  const shutdownMs = parseDuration(flags.shutdownTimeout ?? DEFAULT_SHUTDOWN_TIMEOUT);
  if (shutdownMs === undefined) throw new UsageError(`--shutdown-timeout "${flags.shutdownTimeout}" is not a duration such as 30s or 10m.`);
  let healthPort: number | undefined;
  if (flags.healthPort !== undefined) {
    healthPort = Number(flags.healthPort);
    if (!Number.isInteger(healthPort) || healthPort < 0 || healthPort > 65535)
      throw new UsageError(`--health-port "${flags.healthPort}" is not a port number (0-65535).`);
  }
  const path = configPath(flags) as string;
  const loaded = await loadConfigFor(path);
  const notifiersFor = (l: typeof loaded) => [new ConsoleNotifier(log), ...createNotifiers(l.config, log)];
  // The daemon (and prom-client for its metrics) loads only when a daemon runs.
  const { Daemon } = await import('../jobs/daemon.js');
  const daemon = new Daemon(loaded, { log, notifiersFor, jobNames: flags.job, cronOverride: flags.cron });

  if (flags.dryRun) {
    const names = selectJobs(loaded, flags.job).map((j) => j.name);
    const clock = new Scheduler(() => undefined, log);
    const plan = [...jobSchedules(loaded.config, names, flags.cron)].map(([job, s]) => {
      clock.set(job, s, { runNow: true });
      return { job, schedule: s.text, runs: describeSchedule(s), firstRun: clock.nextRun(job)?.toISOString() };
    });
    clock.stop();
    if (flags.json) process.stdout.write(JSON.stringify({ ok: true, dryRun: true, jobs: plan }, null, 2) + '\n');
    else for (const p of plan) process.stdout.write(`job "${p.job}": ${p.runs}; first run ${p.firstRun ?? 'unknown'}\n`);
    return 0;
  }

  const health = healthPort !== undefined ? await startHealthServer(daemon, healthPort, flags.healthHost) : undefined;
  if (health)
    log.info({ port: health.port }, `health endpoints on http://${flags.healthHost ?? '127.0.0.1'}:${health.port}/healthz and /metrics`);

  let reloading = Promise.resolve();
  const onHup = () => {
    reloading = reloading.then(async () => {
      log.info(`received SIGHUP: reloading ${path}`);
      try {
        await daemon.reload(() => loadConfigFor(path));
        log.info('configuration reloaded');
      } catch (err) {
        log.error(`the reloaded configuration is invalid, keeping the previous one: ${errorMessage(err)}`);
      }
    });
  };

  let stopping: Promise<{ aborted: string[] }> | undefined;
  const done = new Promise<void>((resolve) => {
    const onStop = (sig: NodeJS.Signals) => {
      if (stopping) {
        log.warn(`received ${sig} again: aborting running jobs now`);
        daemon.abortNow(`a second ${sig} was received`);
        return;
      }
      log.info(`received ${sig}: no new runs; running jobs get up to ${formatDuration(shutdownMs)} to finish`);
      stopping = daemon.shutdown(shutdownMs);
      stopping.then(
        ({ aborted }) => {
          if (aborted.length) log.warn(`aborted after the shutdown timeout: ${aborted.join(', ')}`);
          resolve();
        },
        (err: unknown) => {
          log.error(`shutdown failed: ${errorMessage(err)}`);
          resolve();
        },
      );
    };
    process.on('SIGINT', onStop);
    process.on('SIGTERM', onStop);
  });
  process.on('SIGHUP', onHup);

  daemon.start();
  log.info(`daemon started with ${path} (pid ${process.pid}); SIGTERM or SIGINT stops it, SIGHUP reloads the config`);
  await done;
  process.off('SIGHUP', onHup);
  await health?.close();
  removeSecretFiles();
  log.info('daemon stopped');
  return 0;
}
