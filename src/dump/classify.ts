import { OnedumpError, PermanentError, TransientError } from '../util/errors.js';

/**
 * Classifies a failed mysqldump/pg_dump run by what it printed: connection-level failures (MySQL client errors
 * 2002/2003/2013, libpq "could not connect") are transient so the job runner retries them; authentication and
 * unknown-database errors are permanent.
 */
export function classifyToolError(err: unknown, job: string): unknown {
  if (!(err instanceof OnedumpError) || err instanceof PermanentError || err instanceof TransientError) return err;
  const msg = err.message;
  // The runner names the job; `job` is kept for callers that report outside a job.
  void job;
  const prefixed = msg;
  if (/\b(1045|1044|1049)\b|Access denied|Unknown database|password authentication failed|database "[^"]*" does not exist|role "[^"]*" does not exist|no password supplied/i.test(msg)) {
    return new PermanentError(prefixed, { cause: err });
  }
  if (/Got error: (2002|2003|2005|2006|2013)\b|Can't connect to|Lost connection|server has gone away|could not connect to server|connection to server .* failed: (Connection refused|timeout|No route)|Connection refused|the database system is (starting up|shutting down)|server closed the connection unexpectedly/i.test(msg)) {
    return new TransientError(prefixed, { cause: err });
  }
  return new OnedumpError(prefixed, { cause: err });
}
