import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SlowReport } from '../../src/slow/index.js';
import { analyze } from './helpers.js';
import { runMariaDBWorkload, type Workload } from './mariadb-workload.js';
import { ptQueryDigest, type PtClass } from './pt-digest.js';

// A slow log written by a real MariaDB 10.11 (long_query_time=0, log_slow_verbosity with the query
// plan, EXPLAIN and engine extras), restarted half-way. Needs mariadbd and pt-query-digest.

describe('a slow log written by a real MariaDB server', () => {
  let workload: Workload;
  let text: string;
  let report: SlowReport;
  let pt: PtClass[];
  const started = Date.now();

  beforeAll(async () => {
    workload = await runMariaDBWorkload();
    text = readFileSync(workload.log, 'utf8');
    [report, pt] = await Promise.all([analyze(workload.log), ptQueryDigest(workload.log)]);
  }, 180_000);
  afterAll(() => workload?.cleanup());

  const group = (fp: string) => {
    const found = report.results.filter((r) => r.fingerprint === fp);
    expect(found, fp).toHaveLength(1);
    return found[0]!;
  };

  it('has the layout this test is about: two start-up banners, extras, entries without # Time', () => {
    const banners = text.split('\n').filter((l) => /^\S+mariadbd, Version: .* started with:$/.test(l));
    expect(banners).toHaveLength(2);
    expect(text.lastIndexOf(banners[1]!)).toBeGreaterThan(text.length / 4);
    expect(text).toMatch(/^# explain: /m);
    expect(text).toMatch(/^# Full_scan: Yes/m);
    expect(text).toMatch(/^# Pages_accessed: /m);
    expect(text).toMatch(/^# Thread_id: \d+ {2}Schema: {3}QC_hit: No$/m);
    expect(text).toMatch(/^# User@Host: .*\n(?!# Time)/m);
  });

  it('reads every entry: one per Query_time line, none skipped or merged', () => {
    const queryTimeLines = text.split('\n').filter((l) => l.startsWith('# Query_time: ')).length;
    expect(report.entries).toBe(queryTimeLines);
    expect(report.skipped).toBe(0);
    expect(report.results.reduce((n, r) => n + r.count, 0)).toBe(queryTimeLines);
    for (const r of report.results) {
      expect(r.query).not.toMatch(/Version:|^# |\nSET timestamp/m);
    }
  });

  it('counts each statement shape the workload ran, with its users and databases', () => {
    const app = { users: ['app'], databases: ['shop'], hosts: ['127.0.0.1'] };
    const reportUser = { users: ['report'], databases: ['billing'], hosts: ['127.0.0.1'] };
    expect(group('select * from orders where id = ?')).toMatchObject({ count: 10, ...app });
    expect(group('select o.id, o.name from orders o where o.name = ? and o.id > ?')).toMatchObject({ count: 5, ...app });
    expect(group('insert into orders (id, name, code) values(?+)')).toMatchObject({ count: 4, ...app });
    expect(group('update orders set name = ? where id in(?+)')).toMatchObject({ count: 2, ...app });
    expect(group('select count(*) from invoices where total > ?')).toMatchObject({ count: 8, ...reportUser });
    // `USE billing` is a statement of its own (after the server's `use `billing`;` and SET lines).
    expect(group('use ?')).toMatchObject({ count: 2, ...reportUser });
    // An empty `Schema:` means no database, even after entries that had one.
    expect(group('select count(*) from shop.orders')).toMatchObject({ count: 1, users: ['root'], databases: [] });
    expect(group('create database shop')).toMatchObject({ count: 1, users: ['root'], databases: [] });
  });

  it('keeps a multi-line statement whole and the literals of the slowest sample', () => {
    const multi = group('select o.id, o.name from orders o where o.name = ? and o.id > ?');
    expect(multi.query).toMatch(/^SELECT o\.id,\n {7}o\.name\nFROM orders o\nWHERE o\.name = 'x\d'\n {2}AND o\.id > \d$/);
    expect(group('insert into orders (id, name, code) values(?+)').query).toMatch(
      /^INSERT INTO orders \(id, name, code\) VALUES \(\d, 'it''s #\d', 0x1F3A\dC\)$/,
    );
  });

  it('takes times from SET timestamp: every entry falls within the run', () => {
    const finished = Date.now();
    expect(Date.parse(report.first_seen)).toBeGreaterThanOrEqual(Math.floor(started / 1000) * 1000 - 1000);
    expect(Date.parse(report.last_seen)).toBeLessThanOrEqual(finished);
  });

  it('groups as pt-query-digest does, except for its documented defects', () => {
    const ptById = new Map(pt.map((c) => [c.id, c]));
    const expected = new Map(report.results.map((r) => [r.fingerprint_id, r.count]));
    // Defect 1: the doubled quote and the upper-case hex literal give pt-query-digest another fingerprint.
    const insert = group('insert into orders (id, name, code) values(?+)');
    expected.delete(insert.fingerprint_id);
    const ptInsert = pt.find((c) => c.fingerprint === 'insert into orders (id, name, code) values (?, ??, ?f?a?c)');
    expect(ptInsert?.count).toBe(4);
    expected.set(ptInsert!.id, 4);
    // Defect 2: the restart banner and the first entry after it are glued to the last entry before it.
    const merged = pt.filter((c) => c.fingerprint.includes('mariadbd, version:'));
    expect(merged).toHaveLength(1);
    expect(merged[0]!.fingerprint).toMatch(/^select count\(\*\) from invoices where total > \?; .*select \* from orders where id = \?$/);
    expected.set(merged[0]!.id, 1);
    const countStar = group('select count(*) from invoices where total > ?').fingerprint_id;
    const selectStar = group('select * from orders where id = ?').fingerprint_id;
    expected.set(countStar, expected.get(countStar)! - 1);
    expected.set(selectStar, expected.get(selectStar)! - 1);
    expect(new Map([...ptById].map(([id, c]) => [id, c.count]))).toEqual(expected);
  });
});
