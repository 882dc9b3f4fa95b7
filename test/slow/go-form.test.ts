import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SlowReport } from '../../src/slow/index.js';
import { analyze, FIXTURES, runCli, tempDir, writeLog } from './helpers.js';

// Issue 21: under the Go tool's form (`onedump slow -f PATH ...`, invocations from its README and
// tests) the output is what the Go tool gives where scripts notice; `onedump slow PATH` keeps ours.

const SHORT = join(FIXTURES, 'short');
const SHORT_LOG = join(SHORT, 'slowlog_mysql.log');

/** The Go tool's fields of a result, in its order. */
const GO_FIELDS = [
  'time',
  'user',
  'host_ip',
  'query_time',
  'lock_time',
  'rows_sent',
  'rows_examined',
  'thread_id',
  'errno',
  'killed',
  'bytes_received',
  'bytes_sent',
  'read_first',
  'read_last',
  'read_key',
  'read_next',
  'read_prev',
  'read_rnd',
  'read_rnd_next',
  'sort_merge_passes',
  'sort_range_count',
  'sort_rows',
  'sort_scan_count',
  'created_tmp_disk_tables',
  'created_tmp_tables',
  'count_hit_tmp_table_size',
  'start',
  'end',
  'query',
];

async function json(args: string[]): Promise<{ doc: SlowReport; exitCode: number }> {
  const { stdout, exitCode } = await runCli(args);
  return { doc: JSON.parse(stdout) as SlowReport, exitCode };
}

/** Runs with stdout taken for a terminal. */
async function onTerminal(args: string[]): Promise<{ stdout: string; exitCode: number }> {
  const had = Object.getOwnPropertyDescriptor(process.stdout, 'isTTY');
  Object.defineProperty(process.stdout, 'isTTY', { value: true, configurable: true });
  try {
    return await runCli(args);
  } finally {
    if (had) Object.defineProperty(process.stdout, 'isTTY', had);
    else delete (process.stdout as { isTTY?: boolean }).isTTY;
  }
}

describe('onedump slow in the Go tool form (-f)', () => {
  it("`slow -f DIR` lists each file's results, sorted together by query time, as the Go tool's own test expects", async () => {
    const { doc, exitCode } = await json(['-f', SHORT]);
    expect(exitCode).toBe(0);
    expect(doc.ok).toBe(true);
    // The Go tool's cmd/slowcmd test on this folder: its three files, one result per statement and file.
    const go = doc.results.map((r) => [r.query_time, r.user, r.host_ip, r.query]);
    const customer = 'SELECT customer_id, COUNT(*) as order_count FROM orders GROUP BY customer_id HAVING order_count > ?';
    const orders = 'SELECT * FROM orders WHERE customer_id = ? AND order_date > ? ORDER BY order_date DESC';
    const update = 'UPDATE products SET stock = stock - ? WHERE product_id = ?';
    expect(go).toEqual([
      [12.890323, 'admin[admin]', '[192.168.1.101]', customer],
      [9.123456, 'root[root]', 'localhost []', orders],
      [9.123456, 'root[root]', 'localhost []', orders],
      [7.890123, 'admin[admin]', '[192.168.1.101]', customer],
      [7.890123, 'admin[admin]', '[192.168.1.101]', customer],
      [3.456789, 'app_user[app_user]', '[192.168.1.100]', update],
      [3.456789, 'app_user[app_user]', '[192.168.1.100]', update],
    ]);
    for (const r of doc.results) expect(Object.keys(r).slice(0, GO_FIELDS.length)).toEqual(GO_FIELDS);
  });

  it("per file means: the results are each file's own groups, put together; our form merges them", async () => {
    const goForm = (await json(['-f', SHORT, '-p', '*.log'])).doc;
    const files = readdirSync(SHORT).filter((n) => n.endsWith('.log'));
    expect(goForm.files).toBe(files.length);
    const perFile = await Promise.all(files.map((n) => analyze(join(SHORT, n))));
    const key = (r: SlowReport['results'][number]) => `${r.fingerprint_id} ${r.query_time} ${r.count}`;
    expect(goForm.results.map(key).sort()).toEqual(perFile.flatMap((p) => p.results.map(key)).sort());
    expect(goForm.groups).toBe(perFile.reduce((n, p) => n + p.groups, 0));
    const ours = (await json([SHORT, '-p', '*.log', '--json'])).doc;
    expect(ours.results.length).toBe(new Set(goForm.results.map((r) => r.fingerprint_id)).size);
    expect(ours.results.length).toBeLessThan(goForm.results.length);
    expect(ours.entries).toBe(goForm.entries);
    // Worker threads and parts of files give the same per-file lists.
    const dir = tempDir();
    for (const n of files) copyFileSync(join(SHORT, n), join(dir, n));
    writeLog(dir, 'big.log', readFileSync(SHORT_LOG, 'utf8').repeat(400));
    const one = await analyze(dir, { perFile: true, goTool: true });
    expect(one.files).toBe(files.length + 1);
    expect(await analyze(dir, { perFile: true, goTool: true, threads: 2, partBytes: 20_000 })).toEqual(one);
    // -l cuts the per-file list after sorting.
    expect((await json(['-f', SHORT, '-l', '2'])).doc.results.map((r) => r.query_time)).toEqual([12.890323, 9.123456]);
  });

  it("host_ip is the Go tool's, from every User@Host shape, in both forms", async () => {
    const entry = (userHost: string, n: number) =>
      `# Time: 2025-01-01T00:00:0${n}.000000Z\n# User@Host: ${userHost}\n# Query_time: 1.${n}  Lock_time: 0.0 Rows_sent: 0  Rows_examined: 0\nSET timestamp=1735689600;\nSELECT ${n} FROM t${'abcdef'[n]};\n`;
    const shapes: [string, string, string][] = [
      ['root[root] @ localhost []  Id:     8', 'localhost []', 'localhost'],
      ['app[app] @  [10.0.0.1]  Id:    17', '[10.0.0.1]', '10.0.0.1'],
      ['app[app] @ [192.168.1.100]', '[192.168.1.100]', '192.168.1.100'],
      ['web[web] @ web1.example.com [10.0.0.2]', 'web1.example.com [10.0.0.2]', 'web1.example.com'],
      ['root[root] @ localhost [127.0.0.1]  Id: 3', 'localhost [127.0.0.1]', 'localhost'],
      ['root[root] @ localhost [::1]  Id: 4', 'localhost [::1]', 'localhost'],
    ];
    const file = writeLog(tempDir(), 'hosts.log', shapes.map(([u], i) => entry(u, i)).join(''));
    for (const args of [
      ['-f', file],
      [file, '--json'],
    ]) {
      const { doc } = await json(args);
      const byTable = new Map(doc.results.map((r) => [r.fingerprint, r]));
      shapes.forEach(([, hostIp, host], i) => {
        const r = byTable.get(`select ? from t${'abcdef'[i]}`)!;
        expect(r.host_ip, shapes[i]![0]).toBe(hostIp);
        expect(r.hosts).toEqual([host]);
      });
    }
    // --host still matches the name or the address inside the brackets.
    expect((await json([file, '--json', '--host', '10.0.0.2'])).doc.results).toHaveLength(1);
    expect((await json([file, '--json', '--host', 'localhost'])).doc.results).toHaveLength(3);
  });

  it('a failed run prints {"ok":false,...} and exits 0, as the Go tool; our form exits 1', async () => {
    const missing = join(tempDir(), 'missing.log');
    const go = await json(['-f', missing, '-l', '10']);
    expect(go.exitCode).toBe(0);
    expect(go.doc).toEqual({ ok: false, error: expect.stringMatching(/^Cannot read .*missing\.log: no such file/), results: [] });
    expect((await runCli([missing, '--json'])).exitCode).toBe(1);
    const corrupt = writeLog(tempDir(), 'bad.log.gz', '');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(corrupt, Buffer.from([0x1f, 0x8b, 0x08, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
    const bad = await json(['-f', corrupt]);
    expect([bad.exitCode, bad.doc.ok]).toEqual([0, false]);
  });

  it('prints JSON on a terminal too (the Go tool has no table); our form prints a table there', async () => {
    const go = await onTerminal(['-f', SHORT_LOG]);
    expect(JSON.parse(go.stdout).ok).toBe(true);
    const goFailed = await onTerminal(['-f', join(tempDir(), 'missing.log')]);
    expect([goFailed.exitCode, JSON.parse(goFailed.stdout).ok]).toEqual([0, false]);
    expect((await onTerminal(['-f', SHORT_LOG, '--format', 'table'])).stdout).toMatch(/^# 4 entries, 3 groups/);
    expect((await onTerminal([SHORT_LOG])).stdout).toMatch(/^# 4 entries, 3 groups/);
  });

  it('-d postgresql: the Go tool\'s {"ok":false} and exit 0 under -f; refused as bad usage in our form', async () => {
    const go = await json(['-f', SHORT_LOG, '-d', 'postgresql']);
    expect(go.exitCode).toBe(0);
    expect(go.doc).toEqual({ ok: false, error: 'unsupported database type: postgresql', results: [] });
    // The path is looked at first, as the Go tool does.
    const missing = await json(['-f', join(tempDir(), 'nope'), '-d', 'postgresql']);
    expect(missing.doc.error).toMatch(/^Cannot read .*nope: no such file/);
    const ours = await json([SHORT_LOG, '-d', 'postgresql', '--json']);
    expect(ours.exitCode).toBe(2);
    expect(ours.doc.error).toMatch(/MySQL and MariaDB slow logs only/);
    // An engine neither tool knows is bad usage in both forms.
    expect((await runCli(['-f', SHORT_LOG, '-d', 'oracle'])).exitCode).toBe(2);
    expect((await json(['-f', SHORT_LOG, '-d', 'mariadb'])).doc.ok).toBe(true);
  });

  it('-m=false and -m false keep literals; -p is ignored for a file and a folder with no match is an empty list', async () => {
    for (const m of [['-m=false'], ['-m', 'false'], ['--mask', 'false']]) {
      const { doc } = await json(['-f', SHORT_LOG, ...m]);
      expect(doc.results.map((r) => r.query)).toContain('UPDATE products SET stock = stock - 1 WHERE product_id = 456');
    }
    const file = await json(['-f', SHORT_LOG, '-p', '*.gz']);
    expect([file.exitCode, file.doc.ok, file.doc.results.length]).toEqual([0, true, 3]);
    const dir = tempDir();
    mkdirSync(join(dir, 'logs'));
    copyFileSync(SHORT_LOG, join(dir, 'logs', 'mysql-slow.log'));
    const none = await json(['-f', join(dir, 'logs'), '-p', '*.gz']);
    expect([none.exitCode, none.doc.ok, none.doc.results]).toEqual([0, true, []]);
    expect((await json(['-f', join(dir, 'logs'), '-p', '*slow.log'])).doc.results).toHaveLength(3);
    // Our form: a pattern that leaves nothing is an error.
    expect((await runCli([join(dir, 'logs'), '-p', '*.gz', '--json'])).exitCode).toBe(1);
  });
});
