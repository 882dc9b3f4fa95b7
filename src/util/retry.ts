import { setTimeout as sleep } from 'node:timers/promises';
import { isTransient } from './errors.js';

export interface RetryPolicy {
  /** Total tries including the first; Infinity retries transient faults forever. */
  attempts: number;
  /** First back-off delay in ms. */
  initialMs: number;
  /** Cap of one back-off delay in ms; bounds how long after a fault clears the work resumes. */
  maxMs: number;
}

/**
 * Defaults: delays of about 0.5, 1, 2, 4, 8, 8, 8 s (each with jitter), so a fault that clears is picked up within
 * 8 s and the whole policy rides out about 30 s of outage.
 */
export const DEFAULT_RETRY: RetryPolicy = { attempts: 8, initialMs: 500, maxMs: 8_000 };

export interface RetryOptions {
  policy?: Partial<RetryPolicy>;
  /** Defaults to isTransient: permanent faults fail at once. */
  retryable?: (err: unknown) => boolean;
  signal?: AbortSignal;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/** Delay before retry number `attempt` (1-based): exponential, capped, with "equal jitter" (half fixed, half random). */
export function backoffDelay(attempt: number, policy: RetryPolicy, random = Math.random): number {
  const exp = Math.min(policy.maxMs, policy.initialMs * 2 ** (attempt - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}

/** Runs `fn`, retrying transient faults with exponential back-off and jitter. */
export async function retry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...opts.policy };
  const retryable = opts.retryable ?? isTransient;
  for (let attempt = 1; ; attempt++) {
    opts.signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= policy.attempts || !retryable(err) || opts.signal?.aborted) throw err;
      const delay = backoffDelay(attempt, policy);
      opts.onRetry?.(err, attempt, delay);
      await sleep(delay, undefined, { signal: opts.signal });
    }
  }
}
