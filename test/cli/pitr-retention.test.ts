import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { startMariaDB, type MariaDBInstance } from '../../testutils/mariadb.js';
import { runCli } from '../../testutils/cli.js';
import { startHttpRecorder } from '../../testutils/http-recorder.js';
import { startDaemon } from '../../testutils/daemon-process.js';
import { freePort } from '../../testutils/ports.js';
import { readBinlog } from '../../src/binlog/reader.js';

/**
 * A real server with binlog on, real dumps (native driver: the manifest records the snapshot's binlog coordinates)
 * and real `binlog sync` uploads, driven through the CLI: PITR-aware binlog retention, prune, mark and status.
 */
let m: MariaDBInstance;
let work: string;
let cfg: string;
const dumps = () => join(work, 'dumps');
const binlogs = () => join(work, 'binlogs');
const db = 'shop';

function writeConfig(keep: string, extra = ''): void {
  writeFileSync(
    cfg,
    `jobs:
  - name: app
    dbdriver: mysql
    dbdsn: ${m.dsn(db)}
    unique: true
    gzip: true
    maxlag: 1h${extra}
    binlogs:
      url: ${binlogs()}/
    storage:
      local:
        - path: ${dumps()}/app.sql
          keep: ${keep}
`,
  );
}

async function sql(q: string): Promise<void> {
  const c = await m.connect(db);
  try {
    await c.query(q);
  } finally {
    await c.end();
  }
}

const cli = (args: string[]) => runCli(args, { timeoutMs: 120_000 });
const seqOf = (name: string) => Number(/\.(\d+)$/.exec(name)![1]);
const storedBinlogs = () => readdirSync(binlogs()).filter((n) => /\.\d+$/.test(n)).sort();
const backups = () => readdirSync(dumps()).filter((n) => /^\d{14}-app\.sql\.gz$/.test(n)).sort();
const manifest = (name: string) => JSON.parse(readFileSync(join(dumps(), `${name}.manifest.json`), 'utf8'));
const serverBinlogs = () => readdirSync(dirname(m.binlogBase)).filter((n) => n.startsWith(basename(m.binlogBase)) && /\.\d+$/.test(n)).sort();
async function lastEvent(path: string): Promise<string> {
  let max = 0;
  for await (const e of readBinlog(path, { verifyChecksums: false })) max = Math.max(max, e.timestamp);
  return new Date(max * 1000).toISOString();
}

beforeAll(async () => {
  m = await startMariaDB();
  const c = await m.connect();
  await c.query(`CREATE DATABASE ${db}; USE ${db}; CREATE TABLE orders (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(40));`);
  await c.end();
  work = mkdtempSync(join(tmpdir(), 'onedump-pitr-'));
  cfg = join(work, 'jobs.yml');
}, 120_000);
afterAll(async () => {
  await m?.stop();
});

describe('PITR-aware retention, prune, mark and status through the CLI', () => {
  const written: string[] = [];

  it('four dumps with keep: { last: 2 } and binlog sync --keep-for-pitr: binlogs older than the oldest kept dump go, its chain stays', { timeout: 240_000 }, async () => {
    writeConfig('{ last: 2 }');
    for (let i = 0; i < 4; i++) {
      await sql(`INSERT INTO orders (v) VALUES ('before dump ${i}'); FLUSH BINARY LOGS;`);
      const d = await cli(['dump', '-c', cfg]);
      expect(d.code).toBe(0);
      // Retention and binlog retention ran without a warning.
      expect(d.stderr).not.toMatch(/"level":"(warn|error)"/);
      // Names have a one-second timestamp: no two runs in the same second.
      await new Promise((r) => setTimeout(r, 1100));
      await sql(`INSERT INTO orders (v) VALUES ('after dump ${i}'); FLUSH BINARY LOGS; INSERT INTO orders (v) VALUES ('more ${i}');`);
      const s = await cli(['binlog', 'sync', '-c', cfg, '--job', 'app', '--to', `${binlogs()}/`, '--keep-for-pitr']);
      expect(s.stderr).not.toMatch(/onedump:|"level":"(warn|error)"/);
      expect(s.code).toBe(0);
      written.push(backups().at(-1)!);
    }
    const kept = backups();
    expect(kept).toEqual(written.slice(2));
    const starts = kept.map((b) => manifest(b).binlog.file as string);
    expect(starts.every((f) => /^mysql-bin\.\d+$/.test(f))).toBe(true);
    const oldest = Math.min(...starts.map(seqOf));
    // What is stored: exactly the server's files from the oldest kept dump's start file on.
    expect(storedBinlogs()).toEqual(serverBinlogs().filter((n) => seqOf(n) >= oldest));
    expect(serverBinlogs().some((n) => seqOf(n) < oldest)).toBe(true);

    // A plain binlog sync (no --keep-for-pitr) uploads the old files again; the job's next run (binlogs: with prune)
    // deletes what no kept dump needs, by itself.
    expect((await cli(['binlog', 'sync', '-c', cfg, '--job', 'app', '--to', `${binlogs()}/`])).code).toBe(0);
    const uploaded = storedBinlogs();
    expect(uploaded).toEqual(serverBinlogs());
    await sql(`INSERT INTO orders (v) VALUES ('fifth'); FLUSH BINARY LOGS;`);
    expect((await cli(['dump', '-c', cfg])).code).toBe(0);
    await new Promise((r) => setTimeout(r, 1100));
    const now = backups();
    expect(now).toHaveLength(2);
    const oldestNow = Math.min(...now.map((b) => seqOf(manifest(b).binlog.file)));
    expect(oldestNow).toBeGreaterThan(oldest);
    expect(storedBinlogs()).toEqual(uploaded.filter((n) => seqOf(n) >= oldestNow));
  });

  it('prune --dry-run --json says what would go and why, and deletes nothing; prune then does it', { timeout: 120_000 }, async () => {
    writeConfig('{ last: 1 }');
    const before = { dumps: readdirSync(dumps()).sort(), binlogs: storedBinlogs() };
    const r = await cli(['prune', '-c', cfg, '--dry-run', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    const [older, newer] = backups();
    const dest = out.jobs[0].destinations[0];
    expect(dest.destination).toBe('local[0]');
    expect(dest.backups.find((b: { name: string }) => b.name === newer)).toMatchObject({ keep: true, reasons: ['last (1 of 1)'] });
    expect(dest.backups.find((b: { name: string }) => b.name === older)).toMatchObject({ keep: false, reasons: ['not kept by keep last 1'] });
    expect(dest.deleted).toEqual([older]);
    const newStart = manifest(newer!).binlog.file as string;
    expect(out.jobs[0].binlogs.needed).toMatchObject([{ base: 'mysql-bin', file: newStart }]);
    const wouldGo = storedBinlogs().filter((n) => seqOf(n) < seqOf(newStart));
    expect(wouldGo.length).toBeGreaterThan(0);
    expect(out.jobs[0].binlogs.delete.map((f: { name: string }) => f.name)).toEqual(wouldGo);
    expect({ dumps: readdirSync(dumps()).sort(), binlogs: storedBinlogs() }).toEqual(before);

    // The text form names the tier and the binlog reason.
    const text = await cli(['prune', '-c', cfg, '--dry-run']);
    expect(text.stdout).toContain(`would delete ${older}`);
    expect(text.stdout).toMatch(new RegExp(`keep +${newer}  last \\(1 of 1\\)`));
    expect(text.stdout).toContain(`${newStart} and after: the oldest kept dump`);

    // Marked, the older dump stays, and so does its chain.
    const mk = await cli(['mark', '-c', cfg, '--job', 'app', older!, '--keep']);
    expect(mk.code).toBe(0);
    expect(mk.stdout).toContain('marked --keep');
    expect(existsSync(join(dumps(), `${older}.keep`))).toBe(true);
    const ls = await cli(['ls', '-c', cfg, '--json']);
    expect(JSON.parse(ls.stdout).destinations[0].backups.map((b: { name: string }) => b.name).sort()).toEqual([older, newer]);
    const p1 = await cli(['prune', '-c', cfg]);
    expect(p1.code).toBe(0);
    expect(backups()).toEqual([older, newer]);
    expect(storedBinlogs()).toEqual(before.binlogs);

    // Unmarked, prune takes it and the binlogs only it needed.
    expect((await cli(['mark', '-c', cfg, '--job', 'app', older!, '--no-keep'])).code).toBe(0);
    expect(existsSync(join(dumps(), `${older}.keep`))).toBe(false);
    const p2 = await cli(['prune', '-c', cfg]);
    expect(p2.code).toBe(0);
    expect(backups()).toEqual([newer]);
    expect(existsSync(join(dumps(), `${older}.manifest.json`))).toBe(false);
    expect(storedBinlogs()).toEqual(before.binlogs.filter((n) => !wouldGo.includes(n)));
  });

  it('mark: bad input is one sentence and exit 2', async () => {
    const none = await cli(['mark', '-c', cfg, '--job', 'app', '20990101000000-app.sql.gz', '--keep']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^onedump: job "app" has no backup named "20990101000000-app\.sql\.gz" at any destination/);
    const neither = await cli(['mark', '-c', cfg, '--job', 'app', backups()[0]!]);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toBe('onedump: give --keep (mark the backup permanent) or --no-keep (remove the mark).\n');
  });

  it('status: one window from the oldest dump to the last event; a binlog removed in the middle splits it in two and exits 1', { timeout: 240_000 }, async () => {
    writeConfig('{ last: 5 }');
    // Two more dumps, a few binlogs apart.
    for (let i = 0; i < 2; i++) {
      await sql(`INSERT INTO orders (v) VALUES ('status ${i}'); FLUSH BINARY LOGS; INSERT INTO orders (v) VALUES ('x');`);
      expect((await cli(['dump', '-c', cfg])).code).toBe(0);
      await new Promise((r) => setTimeout(r, 1100));
      await sql(`INSERT INTO orders (v) VALUES ('y'); FLUSH BINARY LOGS; INSERT INTO orders (v) VALUES ('z'); FLUSH BINARY LOGS; INSERT INTO orders (v) VALUES ('w');`);
      expect((await cli(['binlog', 'sync', '-c', cfg, '--job', 'app', '--to', `${binlogs()}/`, '--keep-for-pitr'])).code).toBe(0);
    }
    const kept = backups();
    expect(kept).toHaveLength(3);
    const ms = kept.map(manifest);
    const stored = storedBinlogs();
    const last = stored.at(-1)!;
    const ok = await cli(['status', '-c', cfg, '--json']);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const s = JSON.parse(ok.stdout).jobs[0];
    expect(s.gaps).toEqual([]);
    expect(s.windows).toHaveLength(1);
    expect(s.earliest).toBe(ms[0].startedAt);
    expect(s.latest).toBe(await lastEvent(join(binlogs(), last)));
    expect(s.windows[0].binlogs).toEqual({ first: ms[0].binlog.file, last });
    expect(s.newestBackup.name).toBe(kept[2]);
    expect(s.chain.map((c: { name: string }) => c.name)).toEqual(stored);

    // Remove a file between the second and the third kept dump's start files.
    const a = seqOf(ms[1].binlog.file);
    const b = seqOf(ms[2].binlog.file);
    expect(b - a).toBeGreaterThanOrEqual(2);
    const removed = stored.find((n) => seqOf(n) === a + 1)!;
    const beforeGap = stored.find((n) => seqOf(n) === a)!;
    rmSync(join(binlogs(), removed));
    const gap = await cli(['status', '-c', cfg, '--json']);
    expect(gap.code).toBe(1);
    const g = JSON.parse(gap.stdout).jobs[0];
    expect(g.ok).toBe(false);
    expect(g.gaps).toEqual([{ missing: [removed], after: beforeGap, before: stored.find((n) => seqOf(n) === a + 2), reason: 'missing from the destination' }]);
    expect(g.windows).toEqual([
      { from: ms[0].startedAt, to: await lastEvent(join(binlogs(), beforeGap)), dump: expect.stringContaining(kept[0]!), binlogs: { first: ms[0].binlog.file, last: beforeGap } },
      { from: ms[2].startedAt, to: await lastEvent(join(binlogs(), last)), dump: expect.stringContaining(kept[2]!), binlogs: { first: ms[2].binlog.file, last } },
    ]);
    const text = await cli(['status', '-c', cfg]);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain(`problem: binlog gap: ${removed} missing from the destination (between ${beforeGap} and`);
    expect(text.stdout.match(/^ {4}window /gm)).toHaveLength(2);
  });

  it('status: the latest instant older than maxlag is exit 1', { timeout: 60_000 }, async () => {
    // Put the missing file back from the server: no gap; then a maxlag shorter than the time since the last write.
    const name = serverBinlogs().find((n) => !storedBinlogs().includes(n) && seqOf(n) > seqOf(storedBinlogs()[0]!) && seqOf(n) < seqOf(storedBinlogs().at(-1)!))!;
    writeFileSync(join(binlogs(), name), readFileSync(join(dirname(m.binlogBase), name)));
    writeConfig('{ last: 5 }');
    expect((await cli(['status', '-c', cfg])).code).toBe(0);
    await new Promise((r) => setTimeout(r, 2100));
    writeFileSync(cfg, readFileSync(cfg, 'utf8').replace('maxlag: 1h', 'maxlag: 1s'));
    const lag = await cli(['status', '-c', cfg, '--json']);
    expect(lag.code).toBe(1);
    expect(JSON.parse(lag.stdout).jobs[0].problems).toEqual([expect.stringMatching(/^the latest recoverable instant .* old, more than maxlag 1s$/)]);
  });

  it('a run of a job with binlogs: reports its window in the result and notifications, and the daemon exports it in /metrics', { timeout: 120_000 }, async () => {
    writeConfig('{ last: 5 }');
    const rec = await startHttpRecorder();
    const port = await freePort();
    try {
      writeFileSync(cfg, readFileSync(cfg, 'utf8').replace('jobs:', `schedule: 1h\nnotifier:\n  webhook:\n    - url: ${rec.url}/hook\njobs:`));
      const sync = await cli(['binlog', 'sync', '--to', `${binlogs()}/`, '--dsn', m.dsn()]);
      expect(sync.code, sync.stderr).toBe(0);
      const status = JSON.parse((await cli(['status', '-c', cfg, '--json'])).stdout).jobs[0];
      const daemon = startDaemon(['--daemon', '-c', cfg, '--health-port', String(port)]);
      try {
        await daemon.waitForLog(/job "app" run 1 finished/, 60_000);
        await rec.waitFor((d) => d.some((r) => r.path === '/hook' && r.json.type === 'success'), 10_000, 'the success event');
        const event = rec.delivered('/hook').find((r) => r.json.type === 'success')!.json;
        // The run's own dump joins the window: the earliest instant is the oldest kept dump's, as status says.
        expect(event.result.recoverable).toMatchObject({ earliest: status.earliest, windows: 1, gaps: 0, problems: [] });
        expect(Date.parse(event.result.recoverable.latest)).toBeGreaterThanOrEqual(Date.parse(status.latest));
        const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        const metric = (name: string) => Number(new RegExp(`^${name}\\{job="app"\\} (\\S+)$`, 'm').exec(metrics)?.[1]);
        expect(metric('onedump_recoverable_earliest_timestamp_seconds')).toBe(Date.parse(status.earliest) / 1000);
        expect(metric('onedump_recoverable_latest_timestamp_seconds')).toBe(Date.parse(event.result.recoverable.latest) / 1000);
        expect(metric('onedump_binlog_chain_gaps')).toBe(0);
        daemon.signal('SIGTERM');
        expect((await daemon.exited(60_000)).code).toBe(0);
      } finally {
        daemon.kill();
      }
    } finally {
      await rec.close();
    }
  });
});
