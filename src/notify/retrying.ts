import type { Logger } from '../util/logger.js';
import { errorMessage } from '../util/errors.js';
import { NOTIFY_RETRY, retry, type RetryPolicy } from '../util/retry.js';
import type { JobEvent, Notifier } from './types.js';

/**
 * Wraps any notifier with the program's retry policy (transient faults only). A delivery that still fails is thrown
 * to the runner, which logs it and counts it for the exit code; the job's own result never changes.
 */
export function retrying(inner: Notifier, log: Logger, policy: Partial<RetryPolicy> = NOTIFY_RETRY): Notifier {
  return {
    kind: inner.kind,
    notify: (event: JobEvent) =>
      retry(() => inner.notify(event), {
        policy,
        onRetry: (err, attempt, delay) =>
          log.warn(`the ${inner.kind} notifier failed (${errorMessage(err)}); retry ${attempt} in ${delay} ms`),
      }),
  };
}
