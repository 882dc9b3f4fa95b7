import { describe, expect, it } from 'vitest';
import { backoffDelay, DEFAULT_RETRY, policyFromConfig, resolvePolicy, retry } from '../../src/util/retry.js';
import { isTransient, PermanentError } from '../../src/util/errors.js';
import { NotifyHttpError } from '../../src/notify/http.js';

const err = (message: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(message), extra);

describe('isTransient', () => {
  it.each([
    ['connection refused (code)', err('connect ECONNREFUSED 127.0.0.1:3306', { code: 'ECONNREFUSED' })],
    ['connection reset', err('read ECONNRESET', { code: 'ECONNRESET' })],
    ['timeout', err('connect ETIMEDOUT', { code: 'ETIMEDOUT' })],
    ['DNS (EAI_AGAIN)', err('getaddrinfo EAI_AGAIN db', { code: 'EAI_AGAIN' })],
    ['HTTP 429', new NotifyHttpError('Slack', 429, 'rate_limited')],
    ['HTTP 503', new NotifyHttpError('the webhook', 503, '')],
    ['AWS 500 metadata', err('We encountered an internal error', { $metadata: { httpStatusCode: 500 } })],
    ['MySQL gone away', err('MySQL server has gone away')],
    ['mysql2 errno 2013', err('Lost connection', { errno: 2013 })],
    [
      'mysqldump 2003',
      err(
        "mysqldump exited with code 2: mysqldump: Got error: 2003: Can't connect to MySQL server on '127.0.0.1:1' (111) when trying to connect",
      ),
    ],
    [
      'mariadb-dump 2002',
      err(
        "mysqldump exited with code 2: mysqldump: Got error: 2002: \"Can't connect to server on '127.0.0.1' (115)\" when trying to connect",
      ),
    ],
    ['mysqldump unknown host', err("mysqldump: Got error: 2005: Unknown server host 'db.internal' (-3) when trying to connect")],
    [
      'pg_dump refused',
      err('pg_dump exited with code 1: pg_dump: error: connection to server at "127.0.0.1", port 1 failed: Connection refused'),
    ],
    ['pg_dump starting up', err('pg_dump: error: connection to server failed: FATAL:  the database system is starting up')],
    ['pg DNS', err('pg_dump: error: could not translate host name "db" to address: Temporary failure in name resolution')],
    ['wrapped cause', new Error('upload failed', { cause: err('socket hang up') })],
    [
      'slack request error',
      Object.assign(new Error('A request error occurred'), { original: err('fetch failed', { cause: { code: 'ECONNREFUSED' } }) }),
    ],
  ])('%s is transient', (_name, e) => {
    expect(isTransient(e)).toBe(true);
  });

  it.each([
    [
      'mysqldump access denied',
      err(
        "mysqldump exited with code 2: mysqldump: Got error: 1045: \"Access denied for user 'root'@'localhost' (using password: YES)\" when trying to connect",
      ),
    ],
    ['mysqldump unknown database', err('mysqldump: Got error: 1049: "Unknown database \'nope\'" when selecting the database')],
    [
      'pg_dump auth',
      err(
        'pg_dump: error: connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication failed for user "postgres"',
      ),
    ],
    ['pg_dump no database', err('pg_dump: error: connection to server failed: FATAL:  database "nope" does not exist')],
    ['HTTP 404', new NotifyHttpError('Slack', 404, 'no_service')],
    ['HTTP 403', err('Forbidden', { $metadata: { httpStatusCode: 403 } })],
    ['PermanentError', new PermanentError('mysqldump was not found')],
    ['AbortError', Object.assign(new Error('aborted'), { name: 'AbortError' })],
    ['a bug', new TypeError('cannot read properties of undefined')],
  ])('%s is permanent', (_name, e) => {
    expect(isTransient(e)).toBe(false);
  });
});

describe('retry', () => {
  it('backs off exponentially with jitter, capped', () => {
    const p = resolvePolicy();
    const lo = [1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, p, () => 0));
    const hi = [1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, p, () => 1));
    expect(lo).toEqual([250, 500, 1000, 2000, 4000, 4000]);
    expect(hi).toEqual([500, 1000, 2000, 4000, 8000, 8000]);
  });

  it('the defaults ride out about 30 s of outage and resume within 8 s of the fault clearing', () => {
    const p = resolvePolicy();
    const waits = (random: number) => Array.from({ length: p.attempts - 1 }, (_, i) => backoffDelay(i + 1, p, () => random));
    const minTotal = waits(0).reduce((a, b) => a + b, 0);
    expect(minTotal).toBeGreaterThanOrEqual(30_000);
    expect(Math.max(...waits(1))).toBeLessThanOrEqual(8_000);
    expect(DEFAULT_RETRY.maxMs).toBe(8_000);
  });

  it("reads a job's retry: section", () => {
    expect(policyFromConfig({ attempts: 3, initial: '1s', max: '30s' })).toEqual({ attempts: 3, initialMs: 1000, maxMs: 30_000 });
    expect(resolvePolicy({ initialMs: 60_000, maxMs: 5_000 })).toEqual({ attempts: 12, initialMs: 5_000, maxMs: 5_000 });
  });

  it('retries transient faults until they clear, and fails permanent ones at once', async () => {
    let calls = 0;
    const out = await retry(
      async () => {
        if (++calls < 3) throw err('connect ECONNREFUSED', { code: 'ECONNREFUSED' });
        return 'ok';
      },
      { policy: { initialMs: 5, maxMs: 10 } },
    );
    expect([out, calls]).toEqual(['ok', 3]);
    calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw err('Access denied for user');
        },
        { policy: { initialMs: 5 } },
      ),
    ).rejects.toThrow('Access denied');
    expect(calls).toBe(1);
  });

  it('gives up after the attempt limit with the last error', async () => {
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw err(`ECONNRESET ${calls}`, { code: 'ECONNRESET' });
        },
        { policy: { attempts: 3, initialMs: 1, maxMs: 2 } },
      ),
    ).rejects.toThrow('ECONNRESET 3');
    expect(calls).toBe(3);
  });

  it('stops waiting when aborted and reports the abort reason', async () => {
    const ac = new AbortController();
    const p = retry(
      async () => {
        throw err('ECONNREFUSED', { code: 'ECONNREFUSED' });
      },
      { policy: { initialMs: 60_000, maxMs: 60_000 }, signal: ac.signal },
    );
    setTimeout(() => ac.abort(new Error('shutting down')), 20);
    await expect(p).rejects.toThrow('shutting down');
  });

  it('waits at least as long as a Retry-After asks (within the cap)', async () => {
    const delays: number[] = [];
    let calls = 0;
    await retry(
      async () => {
        if (++calls < 2) throw new NotifyHttpError('Slack', 429, '', 300);
      },
      { policy: { initialMs: 1, maxMs: 1000 }, onRetry: (_e, _a, d) => delays.push(d) },
    );
    expect(delays).toEqual([300]);
  });
});
