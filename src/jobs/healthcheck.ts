import type { JobConfig } from '../config/schema.js';
import { postBody } from '../notify/http.js';
import type { JobResult } from '../notify/types.js';
import { redactText } from '../util/redact.js';
import { NOTIFY_RETRY, retry } from '../util/retry.js';

/**
 * Heartbeat pings per job, in the style of Healthchecks.io and its kin (Cronitor, Uptime Kuma push monitors): a ping
 * when the run starts, one when it succeeds, one when it fails. The monitoring side raises the alarm when the success
 * ping does not come in time, which also catches a run that never started (the host was down, the CronJob never fired).
 *
 * `url: BASE` means Healthchecks' convention: BASE/start, BASE, BASE/fail; `start`, `success` and `failure` set (or
 * override) each one. The failure ping carries the error sentence (redacted) as its body.
 */
export type HealthcheckConfig = NonNullable<JobConfig['healthcheck']>;
export type PingKind = 'start' | 'success' | 'failure';

export function pingUrl(hc: HealthcheckConfig, kind: PingKind): string | undefined {
  const explicit = kind === 'start' ? hc.start : kind === 'success' ? hc.success : hc.failure;
  if (explicit) return explicit;
  if (!hc.url) return undefined;
  const base = hc.url.replace(/\/+$/, '');
  return kind === 'start' ? `${base}/start` : kind === 'success' ? base : `${base}/fail`;
}

/** Sends one ping (retried on transient faults); resolves false, never throws, when it could not be delivered. */
export async function ping(
  hc: HealthcheckConfig | undefined,
  kind: PingKind,
  job: string,
  result: JobResult | undefined,
  onError: (message: string) => void,
): Promise<boolean> {
  const url = hc && pingUrl(hc, kind);
  if (!url) return true;
  const body =
    kind === 'failure' ? redactText(`onedump: job "${job}" failed: ${result?.error ?? 'unknown error'}`) : kind === 'success' ? `onedump: job "${job}" succeeded (${result?.bytes ?? 0} bytes)` : `onedump: job "${job}" started`;
  try {
    await retry(() => postBody(url, body, { what: `the ${kind} healthcheck of job "${job}"`, contentType: 'text/plain; charset=utf-8', timeoutMs: 10_000 }), {
      policy: NOTIFY_RETRY,
    });
    return true;
  } catch (err) {
    onError((err as Error).message);
    return false;
  }
}
