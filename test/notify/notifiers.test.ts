import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHttpRecorder, type HttpRecorder } from '../../testutils/http-recorder.js';
import { DUMP_COMPLETED, fakeDumpBinary } from '../../testutils/fake-dump.js';
import { parseConfigText } from '../../src/config/load.js';
import { createNotifiers } from '../../src/notify/create.js';
import { runJobs } from '../../src/jobs/runner.js';
import { silentLogger } from '../../src/util/logger.js';
import type { JobEvent, JobResult } from '../../src/notify/types.js';
import { WebhookNotifier } from '../../src/notify/webhook.js';
import { SlackNotifier } from '../../src/notify/slack.js';
import { isTransient } from '../../src/util/errors.js';
import { freePort } from '../../testutils/ports.js';

let rec: HttpRecorder;
beforeEach(async () => {
  rec = await startHttpRecorder();
});
afterEach(async () => {
  await rec.close();
});

const now = new Date().toISOString();
const okResult: JobResult = {
  job: 'app',
  ok: true,
  bytes: 2048,
  durationMs: 1500,
  sha256: 'ab'.repeat(32),
  fileName: 'app.sql.gz',
  destinations: [
    { name: 'local[0]', location: '/backups/app.sql.gz', ok: true, bytes: 2048 },
    { name: 'local[1]', location: '/mnt/copy/app.sql.gz', ok: true, bytes: 2048 },
  ],
  startedAt: now,
  finishedAt: now,
};
const failedResult: JobResult = {
  ...okResult,
  job: 'billing',
  ok: false,
  sha256: undefined,
  error: '1 of 2 destination(s) failed: local[1] (no space left)',
  destinations: [
    { name: 'local[0]', location: '/backups/billing.sql', ok: true, bytes: 10 },
    { name: 'local[1]', location: '/mnt/full/billing.sql', ok: false, error: 'no space left' },
  ],
};

function config(notifier: string) {
  return parseConfigText(
    `notifier:\n${notifier}\njobs:\n  - name: app\n    dbdriver: mysqldump\n    dbdsn: root:pw@tcp(127.0.0.1:1)/app\n    storage: { local: [{ path: /tmp/x.sql }] }\n`,
    'test.yml',
    {},
  ).config;
}

const events: JobEvent[] = [
  { type: 'start', job: 'app', at: now },
  { type: 'progress', job: 'app', bytes: 10, rate: 1, at: now },
  { type: 'success', job: 'app', result: okResult, at: now },
  { type: 'failure', job: 'billing', result: failedResult, at: now },
  { type: 'summary', results: [okResult, failedResult], at: now },
];

describe('slack notifier', () => {
  it('posts Block Kit messages for success, failure and the run summary (start off by default)', async () => {
    const [slack] = createNotifiers(config(`  slack:\n    - incomingwebhook: ${rec.url}/services/T/B/X`), silentLogger);
    for (const e of events) await slack!.notify(e);
    const got = rec.delivered();
    expect(got.map((r) => r.path)).toEqual(['/services/T/B/X', '/services/T/B/X', '/services/T/B/X']);
    const [success, failure, summary] = got.map((r) => r.json);
    expect(success.text).toBe('Backup job "app" succeeded: 2.0 KiB in 1.5s');
    expect(success.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: '✅ Backup job "app" succeeded' } });
    const fields = success.blocks[1].fields.map((f: { text: string }) => f.text);
    expect(fields).toEqual(['*Size*\n2.0 KiB', '*Duration*\n1.5s', '*File*\napp.sql.gz', `*SHA-256*\n\`${'ab'.repeat(32)}\``]);
    expect(success.blocks[2].text.text).toContain('`local[0]` /backups/app.sql.gz');
    expect(success.blocks[2].text.text).toContain('`local[1]` /mnt/copy/app.sql.gz');

    expect(failure.text).toBe('Backup job "billing" FAILED: 1 of 2 destination(s) failed: local[1] (no space left)');
    expect(failure.blocks[1].text.text).toContain('no space left');
    expect(failure.blocks[2].text.text).toMatch(/^\*Destinations\* \(1 of 2 failed\)/);
    expect(failure.blocks[2].text.text).toContain(':x: `local[1]` /mnt/full/billing.sql — no space left');
    expect(failure.blocks[2].text.text).toContain(':white_check_mark: `local[0]` /backups/billing.sql');

    expect(summary.text).toBe('Onedump results: 1 succeeded, 1 failed');
    expect(summary.blocks[1].text.text).toContain('*billing* — 1 of 2 destination(s) failed');
  });

  it('honours onstart / onsuccess / onfailure', async () => {
    const [slack] = createNotifiers(
      config(`  slack:\n    - { incomingwebhook: "${rec.url}/s", onstart: true, onsuccess: false }`),
      silentLogger,
    );
    for (const e of events) await slack!.notify(e);
    expect(rec.delivered().map((r) => r.json.text)).toEqual([
      'Backup job "app" started',
      'Backup job "billing" FAILED: 1 of 2 destination(s) failed: local[1] (no space left)',
      'Onedump results: 1 succeeded, 1 failed',
    ]);
  });

  it('retries a webhook that answers 500, and fails at once on a 404', async () => {
    const [slack] = createNotifiers(config(`  slack:\n    - incomingwebhook: ${rec.url}/s`), silentLogger);
    rec.failNext(2, 500);
    await slack!.notify(events[2]!);
    expect(rec.requests.map((r) => r.status)).toEqual([500, 500, 200]);
    rec.failNext(1, 404);
    await expect(slack!.notify(events[2]!)).rejects.toThrow('Slack answered HTTP 404');
    expect(rec.requests.map((r) => r.status)).toEqual([500, 500, 200, 404]);
  });
  it('an unreachable Slack fails with a clear, transient error', async () => {
    const port = await freePort();
    const slack = new SlackNotifier({ incomingwebhook: `http://127.0.0.1:${port}/services/T/B/X` });
    const err = await slack.notify(events[2]!).catch((e: unknown) => e);
    expect((err as Error).message).toBe('Slack could not be reached: ECONNREFUSED');
    expect(isTransient(err)).toBe(true);
  });
});

describe('webhook notifier', () => {
  it('POSTs each event as JSON with the configured headers', async () => {
    const [hook] = createNotifiers(
      config(`  webhook:\n    - { url: "${rec.url}/hook", headers: { X-Api-Key: k3y-value-123 }, onstart: true }`),
      silentLogger,
    );
    for (const e of events) await hook!.notify(e);
    const got = rec.delivered();
    expect(got.map((r) => r.json.type)).toEqual(['start', 'success', 'failure', 'summary']);
    expect(got[0]!.headers['x-api-key']).toBe('k3y-value-123');
    expect(got[0]!.headers['content-type']).toBe('application/json');
    expect(got[1]!.json).toEqual({ source: 'onedump', ...events[2] });
  });
  it('an unreachable URL fails with a clear, transient error', async () => {
    const port = await freePort();
    const hook = new WebhookNotifier({ url: `http://127.0.0.1:${port}/hook` });
    const err = await hook.notify(events[2]!).catch((e: unknown) => e);
    expect((err as Error).message).toBe('the webhook could not be reached: ECONNREFUSED');
    expect(isTransient(err)).toBe(true);
  });
});

describe('notifications from real job runs', () => {
  const PASSWORD = 'Sup3r-Secret-DbPass';
  const API_KEY = 'wh-api-key-7f3a9c';
  const PEM = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----';

  function jobsYaml(dir: string, driverpath: string, notifier: string) {
    return `notifier:\n${notifier}\njobs:\n  - name: leaky\n    dbdriver: mysqldump\n    dbdsn: root:${PASSWORD}@tcp(127.0.0.1:3306)/app\n    driverpath: ${driverpath}\n    storage: { local: [{ path: ${dir}/leaky.sql }] }\n`;
  }

  it('a failing job whose error contains the DSN password and a key reaches Slack and the webhook scrubbed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-notify-'));
    // The stand-in prints its credentials file (with the password), a private key and the webhook's API key.
    const bin = fakeDumpBinary(
      `f="\${1#--defaults-extra-file=}"\ngrep password "$f" >&2\necho "dsn root:${PASSWORD}@tcp(db:3306)/app" >&2\nprintf '%s\\n' "${PEM.replace(/\n/g, '\\n')}" >&2\necho "api key ${API_KEY}" >&2\nexit 2`,
      dir,
    );
    const loaded = parseConfigText(
      jobsYaml(
        dir,
        bin,
        `  slack:\n    - incomingwebhook: ${rec.url}/slack\n  webhook:\n    - { url: "${rec.url}/hook", headers: { X-Api-Key: ${API_KEY} } }`,
      ),
      'test.yml',
      {},
    );
    const summary = await runJobs(loaded, { log: silentLogger, notifiers: createNotifiers(loaded.config, silentLogger) });
    expect(summary.results[0]!.ok).toBe(false);
    expect(summary.results[0]!.error).toMatch(/^(mysqldump|fake-dump-\w+\.sh) exited with code 2: /);
    expect(summary.notificationFailures).toBe(0);
    const slack = rec.delivered('/slack');
    const hook = rec.delivered('/hook');
    expect(slack.map((r) => r.json.text.slice(0, 27))).toEqual(['Backup job "leaky" FAILED: ']);
    expect(hook.map((r) => r.json.type)).toEqual(['failure']);
    for (const r of [...slack, ...hook]) {
      expect(r.body).toContain('***');
      expect(r.body).not.toContain(PASSWORD);
      expect(r.body).not.toContain(API_KEY);
      expect(r.body).not.toContain('b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ');
    }
    // Nothing incomplete under the final name.
    expect(() => readFileSync(join(dir, 'leaky.sql'))).toThrow();
  });

  it('a notifier that stays down does not change the job result, but is counted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-notify-'));
    const bin = fakeDumpBinary(`echo "-- dump"\necho "CREATE TABLE t (id int);"\n${DUMP_COMPLETED}`, dir);
    rec.failNext(100, 404, '/down');
    const loaded = parseConfigText(
      jobsYaml(dir, bin, `  slack:\n    - incomingwebhook: ${rec.url}/down\n    - incomingwebhook: ${rec.url}/up`),
      'test.yml',
      {},
    );
    const summary = await runJobs(loaded, { log: silentLogger, notifiers: createNotifiers(loaded.config, silentLogger) });
    expect(summary.results[0]!.ok).toBe(true);
    expect(readFileSync(join(dir, 'leaky.sql'), 'utf8')).toBe('-- dump\nCREATE TABLE t (id int);\n-- Dump completed\n');
    expect(summary.notificationFailures).toBe(1);
    expect(rec.delivered('/up').map((r) => r.json.text)).toEqual([expect.stringMatching(/^Backup job "leaky" succeeded: 51 B in /)]);
  });
});
