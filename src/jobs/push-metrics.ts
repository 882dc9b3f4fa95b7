import { readFile } from 'node:fs/promises';
import { Gauge, Registry } from 'prom-client';
import type { JobResult } from '../notify/types.js';
import { writeAtomic } from '../util/atomic-file.js';
import { OnedumpError, errorMessage } from '../util/errors.js';
import { registerSecret } from '../util/redact.js';
import { NOTIFY_RETRY, retry } from '../util/retry.js';
import { postBody } from '../notify/http.js';
import { JOB_GAUGES } from './metrics.js';

/**
 * Metrics of one-shot runs (`onedump dump` under cron, a Kubernetes CronJob, a systemd timer), for Prometheus: written
 * to a node-exporter textfile (--metrics-textfile) or pushed to a Pushgateway (--pushgateway). The names are the
 * daemon's (src/jobs/metrics.ts) where they mean the same, so one alert rule serves both ways of running.
 *
 * Push-add semantics in both: a run replaces the samples of the jobs it ran and keeps everything else; a failed run
 * does not touch the last-success gauges, so "no success for longer than the expected interval" keeps firing.
 */

interface Family {
  name: string;
  help: string;
}

const F = {
  lastRun: JOB_GAUGES.lastRun,
  lastOk: JOB_GAUGES.lastOk,
  lastDuration: JOB_GAUGES.lastDuration,
  lastSuccess: JOB_GAUGES.lastSuccess,
  lastBytes: JOB_GAUGES.lastBytes,
  lastFailure: { name: 'onedump_job_last_failure_timestamp_seconds', help: 'Unix time the job last failed.' },
  lastSkipped: {
    name: 'onedump_job_last_skipped_timestamp_seconds',
    help: 'Unix time a run of the job was last skipped because another run held its lock.',
  },
  expectedInterval: {
    name: 'onedump_job_expected_interval_seconds',
    help: 'How often the job is meant to succeed: alert when time() - onedump_job_last_success_timestamp_seconds exceeds it.',
  },
  recoverableEarliest: JOB_GAUGES.recoverableEarliest,
  recoverableLatest: JOB_GAUGES.recoverableLatest,
  chainGaps: JOB_GAUGES.chainGaps,
} satisfies Record<string, Family>;

const FAMILIES: Family[] = Object.values(F);

/** The samples one run sets for one job: family name → value. */
export function jobSamples(r: JobResult, expectedIntervalSeconds?: number): Map<string, number> {
  const s = new Map<string, number>();
  const finished = Date.parse(r.finishedAt) / 1000;
  if (expectedIntervalSeconds !== undefined) s.set(F.expectedInterval.name, expectedIntervalSeconds);
  if (r.skipped) {
    s.set(F.lastSkipped.name, finished);
    return s;
  }
  s.set(F.lastRun.name, finished);
  s.set(F.lastOk.name, r.ok ? 1 : 0);
  s.set(F.lastDuration.name, r.durationMs / 1000);
  if (r.ok) {
    s.set(F.lastSuccess.name, finished);
    s.set(F.lastBytes.name, r.bytes);
    if (r.recoverable) {
      if (r.recoverable.earliest) s.set(F.recoverableEarliest.name, Date.parse(r.recoverable.earliest) / 1000);
      if (r.recoverable.latest) s.set(F.recoverableLatest.name, Date.parse(r.recoverable.latest) / 1000);
      s.set(F.chainGaps.name, r.recoverable.gaps);
    }
  } else {
    s.set(F.lastFailure.name, finished);
  }
  return s;
}

/** Renders samples per job (job → family → value) in the Prometheus text format, through prom-client. */
async function render(byJob: Map<string, Map<string, number>>, withJobLabel: boolean): Promise<string> {
  const registry = new Registry();
  for (const f of FAMILIES) {
    // Only families with a sample: a gauge without labels would print 0 for a value never set.
    if (![...byJob.values()].some((samples) => samples.has(f.name))) continue;
    const g = new Gauge({ name: f.name, help: f.help, labelNames: withJobLabel ? ['job'] : [], registers: [registry] });
    for (const [job, samples] of byJob) {
      const v = samples.get(f.name);
      if (v === undefined) continue;
      if (withJobLabel) g.set({ job }, v);
      else g.set(v);
    }
  }
  return registry.metrics();
}

const SAMPLE = /^(onedump_[a-z_]+)\{job="((?:[^"\\]|\\.)*)"\} (\S+)$/;

/** The samples of a textfile this module wrote before (other lines are ignored). */
export function parseTextfile(text: string): Map<string, Map<string, number>> {
  const byJob = new Map<string, Map<string, number>>();
  const known = new Set(FAMILIES.map((f) => f.name));
  for (const line of text.split('\n')) {
    const m = SAMPLE.exec(line);
    if (!m || !known.has(m[1]!)) continue;
    const job = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const value = Number(m[3]);
    if (Number.isNaN(value)) continue;
    if (!byJob.has(job)) byJob.set(job, new Map());
    byJob.get(job)!.set(m[1]!, value);
  }
  return byJob;
}

/** Refuses (exit 2) a --metrics-textfile path node-exporter would not read; checked before the run and again on write. */
export function checkTextfilePath(path: string): void {
  if (!path.endsWith('.prom'))
    throw new OnedumpError(`--metrics-textfile ${path}: node-exporter reads only files whose name ends in .prom.`, { exitCode: 2 });
}

/**
 * Writes the run's metrics to `path` for node-exporter's textfile collector (the name must end in .prom), atomically
 * (a scrape sees the old file or the new one), keeping the samples of jobs this run did not run and the last-success
 * samples of jobs that failed.
 */
export async function writeMetricsTextfile(path: string, results: JobResult[], expected: Map<string, number>): Promise<void> {
  checkTextfilePath(path);
  let previous = new Map<string, Map<string, number>>();
  try {
    previous = parseTextfile(await readFile(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new OnedumpError(`cannot read ${path}: ${errorMessage(err)}`, { cause: err });
  }
  for (const r of results) {
    const merged = previous.get(r.job) ?? new Map<string, number>();
    for (const [k, v] of jobSamples(r, expected.get(r.job))) merged.set(k, v);
    previous.set(r.job, merged);
  }
  try {
    await writeAtomic(path, await render(previous, true));
  } catch (err) {
    throw new OnedumpError(`cannot write the metrics textfile ${path}: ${errorMessage(err)}`, { cause: err });
  }
}

export interface PushOptions {
  /** Extra grouping labels (--pushgateway-label instance=db1), besides job. */
  labels?: Record<string, string>;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Pushes each job's samples to a Pushgateway with push-add semantics (POST: the group's other metrics stay), grouped
 * by job="<job name>" plus `labels`. The samples carry no job label of their own: the grouping key gives it, as the
 * Pushgateway wants. Credentials in the URL (https://user:pass@host) go in an Authorization header and are redacted.
 */
export async function pushToGateway(url: string, results: JobResult[], expected: Map<string, number>, o: PushOptions = {}): Promise<void> {
  const base = checkPushgatewayUrl(url);
  const headers: Record<string, string> = {};
  if (base.username || base.password) {
    const user = decodeURIComponent(base.username);
    const pass = decodeURIComponent(base.password);
    if (pass) registerSecret(pass);
    headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    base.username = '';
    base.password = '';
  }
  const where = base.origin + base.pathname.replace(/\/+$/, '');
  for (const r of results) {
    const body = await render(new Map([[r.job, jobSamples(r, expected.get(r.job))]]), false);
    const path = [['job', r.job], ...Object.entries(o.labels ?? {})].map(([k, v]) => groupingPart(k, v)).join('/');
    const target = `${where}/metrics/${path}`;
    await retry(
      () =>
        postBody(target, body, {
          what: `the Pushgateway at ${base.origin}`,
          contentType: 'text/plain; version=0.0.4',
          headers,
          timeoutMs: o.timeoutMs ?? 10_000,
          signal: o.signal,
        }),
      {
        policy: NOTIFY_RETRY,
        signal: o.signal,
      },
    );
  }
}

/** The Pushgateway's URL, or a usage error (exit 2) in one sentence; checked before a run starts. */
export function checkPushgatewayUrl(url: string): URL {
  let base: URL;
  try {
    base = new URL(url);
  } catch {
    throw new OnedumpError('--pushgateway is not a URL such as http://pushgateway:9091.', { exitCode: 2 });
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:')
    throw new OnedumpError('--pushgateway needs an http:// or https:// URL.', { exitCode: 2 });
  return base;
}

/** One label of a grouping key in the URL; a value with a slash (or empty) is base64url-encoded, as the Pushgateway allows. */
function groupingPart(name: string, value: string): string {
  if (value === '' || value.includes('/')) return `${name}@base64/${Buffer.from(value).toString('base64url') || '='}`;
  return `${name}/${encodeURIComponent(value)}`;
}

/** --pushgateway-label NAME=VALUE, repeatable; NAME as Prometheus label names are. */
export function parseGroupingLabels(items: string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(item);
    if (!m) throw new OnedumpError(`--pushgateway-label "${item}" is not NAME=VALUE (NAME: letters, digits and _).`, { exitCode: 2 });
    if (m[1] === 'job')
      throw new OnedumpError("--pushgateway-label job=… is not allowed: the job label is each job's name.", { exitCode: 2 });
    out[m[1]!] = m[2]!;
  }
  return out;
}
