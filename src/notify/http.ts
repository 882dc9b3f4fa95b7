import { OnedumpError } from '../util/errors.js';
import { redactText } from '../util/redact.js';

/** A notification endpoint answered with an error status; 408, 429 and 5xx are transient (see isTransient). */
export class NotifyHttpError extends OnedumpError {
  readonly status: number;
  readonly retryAfterMs?: number;
  constructor(what: string, status: number, body: string, retryAfterMs?: number) {
    const detail = redactText(body.trim().slice(0, 200));
    super(`${what} answered HTTP ${status}${detail ? `: ${detail}` : ''}`);
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

function parseRetryAfter(v: string | null): number | undefined {
  if (!v) return undefined;
  const secs = Number(v);
  if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** POSTs a JSON body; throws NotifyHttpError on a non-2xx answer. Redirects are refused (the URL may carry a secret). */
export async function postJson(
  url: string,
  body: unknown,
  opts: { what: string; headers?: Record<string, string>; timeoutMs?: number },
): Promise<void> {
  await postBody(url, JSON.stringify(body), { ...opts, contentType: 'application/json' });
}

/**
 * POSTs a body (JSON, text, the Prometheus text format); throws NotifyHttpError on a non-2xx answer, OnedumpError
 * naming the cause when the server cannot be reached. Redirects are refused and the URL is never repeated in an
 * error (it may carry a token).
 */
export async function postBody(
  url: string,
  body: string,
  opts: { what: string; contentType: string; headers?: Record<string, string>; timeoutMs?: number; signal?: AbortSignal },
): Promise<void> {
  let res: Response;
  const timeout = AbortSignal.timeout(opts.timeoutMs ?? 15_000);
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': opts.contentType, 'user-agent': 'onedump', ...opts.headers },
      body,
      redirect: 'error',
      signal: opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout,
    });
  } catch (err) {
    // fetch says only "fetch failed"; the reason (ECONNREFUSED, a timeout, DNS) is in its cause.
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (err as Error).message;
    throw new OnedumpError(`${opts.what} could not be reached: ${redactText(String(why))}`, { cause: err });
  }
  const text = await res.text().catch(() => '');
  if (!res.ok) throw new NotifyHttpError(opts.what, res.status, text, parseRetryAfter(res.headers.get('retry-after')));
}
