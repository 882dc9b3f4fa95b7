import { setTimeout as sleep } from 'node:timers/promises';
import { isTransient } from './errors.js';
import { parseDuration } from './duration.js';

/**
 * THE retry policy of the program: dumpers, storages, notifiers and the daemon all retry through `retry()` with
 * `isTransient` deciding what is worth another try. Nothing else writes its own retry loop.
 */
export interface RetryPolicy {
  /** Total tries including the first; Infinity retries transient faults forever. */
  attempts: number;
  /** First back-off delay in ms. */
  initialMs: number;
  /** Cap of one back-off delay in ms; bounds how long after a fault clears the work resumes. */
  maxMs: number;
}

/**
 * Defaults: delays of about 0.5, 1, 2, 4 s then 8 s seven times (each with jitter, never less than half): the policy rides
 * out an outage of at least 31 s (about 48 s on average), and once a fault clears the work resumes within 8 s.
 */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 12, initialMs: 500, maxMs: 8_000 };

/** Notifications are not worth holding a job for long: about 0.5, 1, 2, 4 s. */
export const NOTIFY_RETRY: RetryPolicy = { attempts: 5, initialMs: 500, maxMs: 4_000 };

export interface RetryOptions {
  policy?: Partial<RetryPolicy>;
  /** Defaults to isTransient: permanent faults fail at once. */
  retryable?: (err: unknown) => boolean;
  signal?: AbortSignal;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Injected in tests. */
  random?: () => number;
}

/** A job's `retry:` section as a policy (durations such as 1s or 30s). */
export function policyFromConfig(
  cfg: { attempts?: number; initial?: string | number; max?: string | number } | undefined,
): Partial<RetryPolicy> {
  if (!cfg) return {};
  const out: Partial<RetryPolicy> = {};
  if (cfg.attempts !== undefined) out.attempts = cfg.attempts;
  if (cfg.initial !== undefined) out.initialMs = parseDuration(cfg.initial);
  if (cfg.max !== undefined) out.maxMs = parseDuration(cfg.max);
  return out;
}

/** Fills in the defaults and makes the policy coherent (initial never above max, at least one attempt). */
export function resolvePolicy(p: Partial<RetryPolicy> = {}, base: RetryPolicy = DEFAULT_RETRY): RetryPolicy {
  const attempts = Math.max(1, p.attempts ?? base.attempts);
  const maxMs = Math.max(1, p.maxMs ?? base.maxMs);
  const initialMs = Math.min(maxMs, Math.max(1, p.initialMs ?? Math.min(base.initialMs, maxMs)));
  return { attempts, initialMs, maxMs };
}

/** Delay before retry number `attempt` (1-based): exponential, capped, with "equal jitter" (half fixed, half random). */
export function backoffDelay(attempt: number, policy: RetryPolicy, random = Math.random): number {
  const exp = Math.min(policy.maxMs, policy.initialMs * 2 ** (attempt - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}

/** A server's Retry-After (seconds) in ms, when the error carries one; never more than the policy's cap. */
function retryAfterMs(err: unknown, policy: RetryPolicy): number | undefined {
  const e = err as { retryAfterMs?: unknown } | null;
  const v = e && typeof e === 'object' ? e.retryAfterMs : undefined;
  return typeof v === 'number' && v > 0 ? Math.min(v, policy.maxMs) : undefined;
}

/** Runs `fn`, retrying transient faults with exponential back-off and jitter. */
export async function retry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const policy = resolvePolicy(opts.policy);
  const retryable = opts.retryable ?? isTransient;
  for (let attempt = 1; ; attempt++) {
    opts.signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= policy.attempts || !retryable(err) || opts.signal?.aborted) throw err;
      const delay = Math.max(backoffDelay(attempt, policy, opts.random), retryAfterMs(err, policy) ?? 0);
      opts.onRetry?.(err, attempt, delay);
      try {
        await sleep(delay, undefined, { signal: opts.signal });
      } catch {
        // Aborted while waiting: report why we stopped, not a bare "operation was aborted".
        throw opts.signal?.reason ?? err;
      }
    }
  }
}
