import { describe, expect, it } from 'vitest';
import { redactText, redactValue, registerSecret } from '../../src/util/redact.js';
import { backoffDelay, retry, DEFAULT_RETRY } from '../../src/util/retry.js';
import { isTransient, PermanentError, errorMessage } from '../../src/util/errors.js';
import { backupKey, jobBackupsIn, retentionPattern, timestampPrefix } from '../../src/jobs/naming.js';
import { formatBytes, parseDuration } from '../../src/util/duration.js';
import { createLogger } from '../../src/util/logger.js';
import { Writable } from 'node:stream';

describe('redaction', () => {
  it('masks DSN passwords, URL userinfo, key=value secrets, bearer tokens, PEM keys and Slack webhook paths', () => {
    expect(redactText('dial root:hunter2@tcp(db:3306)/app failed')).toBe('dial root:***@tcp(db:3306)/app failed');
    expect(redactText('postgres://pg:pa55@h:5432/db')).toBe('postgres://pg:***@h:5432/db');
    expect(redactText('GET /x?access_token=abc123&x=1 password=p')).toBe('GET /x?access_token=***&x=1 password=***');
    expect(redactText('Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload')).toBe('Authorization: Bearer ***');
    expect(redactText('-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----')).toBe('[private key ***]');
    expect(redactText('https://hooks.slack.com/services/T0/B0/XYZ')).toBe('https://hooks.slack.com/services/***');
  });

  it('masks registered secrets anywhere, also URL-encoded', () => {
    registerSecret('s3cr3t/with@chars');
    expect(redactText('it said s3cr3t/with@chars and s3cr3t%2Fwith%40chars')).toBe('it said *** and ***');
  });

  it('masks secret-named fields in objects', () => {
    expect(redactValue({ user: 'u', password: 'p', nested: { refreshtoken: 't', ok: 'dial a:b@tcp(h)/' } })).toEqual({
      user: 'u',
      password: '***',
      nested: { refreshtoken: '***', ok: 'dial a:***@tcp(h)/' },
    });
  });

  it('scrubs every log line', () => {
    let out = '';
    const log = createLogger({ format: 'json', destination: new Writable({ write: (c, _e, cb) => ((out += c), cb()) }) as unknown as NodeJS.WritableStream });
    registerSecret('topsecretvalue');
    log.info({ dsn: 'root:pw1234@tcp(h:1)/d', clientsecret: 'zzz' }, 'connecting with topsecretvalue');
    log.flush();
    expect(out).not.toContain('topsecretvalue');
    expect(out).not.toContain('pw1234');
    expect(out).not.toContain('zzz');
    expect(JSON.parse(out).msg).toBe('connecting with ***');
  });
});

describe('formatBytes', () => {
  it('prints whole bytes below 1 KiB (rates too) and one decimal above', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(5)).toBe('5 B');
    expect(formatBytes((5 / 188) * 1000)).toBe('27 B');
    expect(formatBytes(1023.6)).toBe('1024 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(1.35e9)).toBe('1.3 GiB');
  });
});

describe('retry policy', () => {
  it('backs off exponentially with jitter, capped', () => {
    const p = DEFAULT_RETRY;
    expect(backoffDelay(1, p, () => 0)).toBe(250);
    expect(backoffDelay(1, p, () => 1)).toBe(500);
    expect(backoffDelay(4, p, () => 1)).toBe(4000);
    expect(backoffDelay(10, p, () => 1)).toBe(8000);
    // With the defaults, the total wait rides out about 30 s of outage and no single wait exceeds 8 s.
    const total = Array.from({ length: p.attempts - 1 }, (_, i) => backoffDelay(i + 1, p, () => 1)).reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThanOrEqual(30_000);
  });

  it('retries transient faults and fails fast on permanent ones', async () => {
    let n = 0;
    const v = await retry(
      async () => {
        if (++n < 3) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        return 'ok';
      },
      { policy: { initialMs: 1, maxMs: 2 } },
    );
    expect([v, n]).toEqual(['ok', 3]);
    let m = 0;
    await expect(
      retry(
        async () => {
          m++;
          throw new PermanentError('Access denied');
        },
        { policy: { initialMs: 1 } },
      ),
    ).rejects.toThrow('Access denied');
    expect(m).toBe(1);
  });

  it('classifies faults', () => {
    expect(isTransient(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isTransient({ $metadata: { httpStatusCode: 503 } })).toBe(true);
    expect(isTransient({ status: 429 })).toBe(true);
    expect(isTransient({ status: 403 })).toBe(false);
    expect(isTransient(new Error('MySQL server has gone away'))).toBe(true);
    expect(isTransient(new Error("Access denied for user 'x'"))).toBe(false);
    expect(isTransient(new AggregateError([Object.assign(new Error(''), { code: 'ECONNREFUSED' })]))).toBe(true);
    expect(errorMessage(new Error('failed for a:b@tcp(h)/d'))).toBe('failed for a:***@tcp(h)/d');
  });
});

describe('naming (as the Go tool)', () => {
  const now = new Date(Date.UTC(2026, 10, 28, 3, 4, 5));
  it('adds .gz when gzip and missing, and a UTC timestamp prefix when unique', () => {
    expect(timestampPrefix(now)).toBe('20261128030405');
    expect(backupKey('db/app.sql', { gzip: true, unique: true, now })).toBe('db/20261128030405-app.sql.gz');
    expect(backupKey('app.sql.gz', { gzip: true, unique: false, now })).toBe('app.sql.gz');
    expect(backupKey('app.sql', { gzip: false, unique: false, now })).toBe('app.sql');
  });
  it('retention matches only this job\'s names', () => {
    const re = retentionPattern('app.sql', { gzip: true, unique: true });
    expect(re.test('20261128030405-app.sql.gz')).toBe(true);
    expect(re.test('other-app.sql.gz')).toBe(false);
    expect(re.test('20261128030405-app.sql.gz.partial')).toBe(false);
    expect(re.test('20261128030405-xapp.sql.gz')).toBe(false);
  });
  it('encrypted backups end in .age, after .gz, and retention matches exactly those', () => {
    expect(backupKey('db/app.sql', { gzip: true, unique: true, encrypt: true, now })).toBe('db/20261128030405-app.sql.gz.age');
    expect(backupKey('app.sql', { gzip: false, unique: false, encrypt: true, now })).toBe('app.sql.age');
    // A configured name that already says .age is not doubled, and .gz still goes before it.
    expect(backupKey('app.sql.age', { gzip: true, unique: false, encrypt: true, now })).toBe('app.sql.gz.age');
    expect(backupKey('app.sql.gz.age', { gzip: true, unique: false, encrypt: true, now })).toBe('app.sql.gz.age');
    const re = retentionPattern('app.sql', { gzip: true, unique: true, encrypt: true });
    expect(re.test('20261128030405-app.sql.gz.age')).toBe(true);
    expect(re.test('20261128030405-app.sql.gz')).toBe(false);
    expect(re.test('20261128030405-app.sql.gz.age.partial')).toBe(false);
    expect(retentionPattern('app.sql', { gzip: true, unique: true }).test('20261128030405-app.sql.gz.age')).toBe(false);
  });
  it('zstd backups end in .zst (.zst.age when encrypted); retention and jobBackupsIn tell a job\'s zstd, gzip and plain names apart', () => {
    expect(backupKey('db/app.sql', { compression: 'zstd', unique: true, now })).toBe('db/20261128030405-app.sql.zst');
    expect(backupKey('app.sql.zst', { compression: 'zstd', unique: false, now })).toBe('app.sql.zst');
    expect(backupKey('app.sql.age', { compression: 'zstd', unique: false, encrypt: true, now })).toBe('app.sql.zst.age');
    // compression wins over the Go switch; none adds nothing.
    expect(backupKey('app.sql', { gzip: true, compression: 'none', unique: false, now })).toBe('app.sql');
    const re = retentionPattern('app.sql', { compression: 'zstd', unique: true, encrypt: true });
    expect(re.test('20261128030405-app.sql.zst.age')).toBe(true);
    expect(re.test('20261128030405-app.sql.gz.age')).toBe(false);
    expect(re.test('20261128030405-app.sql.zst')).toBe(false);
    const { dir, accept } = jobBackupsIn('b/app.sql', { compression: 'zstd', unique: true });
    expect(dir).toBe('b/');
    expect(['20261128030405-app.sql.zst', '20261128030405-app.sql.gz', '20261128030405-app.sql'].map(accept)).toEqual([true, false, false]);
    expect(jobBackupsIn('b/app.sql', { gzip: true, unique: false }).accept('app.sql.gz')).toBe(true);
  });
  it('parses durations', () => {
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('2s')).toBe(2000);
    expect(parseDuration('21h')).toBe(75_600_000);
    expect(parseDuration('soon')).toBeUndefined();
  });
});
