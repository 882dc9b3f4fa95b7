import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyze, FIXTURES, mysqlEntry, MARIADB_BANNER, tempDir, writeLog } from './helpers.js';
import { ptQueryDigest } from './pt-digest.js';

// These tests need pt-query-digest (apt-get install -y percona-toolkit); without it they fail.

function countsById(results: { fingerprint_id: string; count: number }[]): Map<string, number> {
  return new Map(results.map((r) => [r.fingerprint_id, r.count]));
}

describe('grouping agrees with pt-query-digest', () => {
  it('on a generated MySQL 8 log: same groups, same IDs, same counts', async () => {
    const dir = tempDir();
    const file = join(dir, 'gen.log');
    execFileSync('node', [join(import.meta.dirname, '../../bench/gen-slowlog.mjs'), file, '3', '5']);
    const [ours, pt] = await Promise.all([analyze(file), ptQueryDigest(file)]);
    expect(ours.groups).toBeGreaterThan(40);
    expect(countsById(ours.results)).toEqual(new Map(pt.map((c) => [c.id, c.count])));
    const fingerprints = new Map(ours.results.map((r) => [r.fingerprint_id, r.fingerprint]));
    for (const c of pt) expect(fingerprints.get(c.id)).toBe(c.fingerprint);
  }, 60_000);

  it('on the MySQL 8.4 fixture, except statements that are a comment holding a quote', async () => {
    const file = join(FIXTURES, 'long/slowlog_mysql.log');
    const [ours, pt] = await Promise.all([analyze(file), ptQueryDigest(file)]);
    expect(ours.entries).toBe(pt.reduce((n, c) => n + c.count, 0));
    const oursById = countsById(ours.results);
    // pt-query-digest does not strip `-- What's done…` because of the quote, and pairs that quote
    // with the next one; we strip the comment, so those statements join the empty-fingerprint group.
    const commentWithQuote = (c: { example: string }) => /^--[^\n]*['"]/.test(c.example.trim());
    const defect = pt.filter(commentWithQuote);
    expect(defect.length).toBeGreaterThan(0);
    for (const c of pt.filter((c) => !commentWithQuote(c))) {
      const extra = c.fingerprint === '' ? defect.reduce((n, d) => n + d.count, 0) : 0;
      expect(oursById.get(c.id), c.fingerprint).toBe(c.count + extra);
    }
    expect(ours.groups).toBe(pt.length - defect.length);
  }, 60_000);
});

/** Writes `body`, runs both tools and returns their per-fingerprint counts. */
async function both(body: string) {
  const file = writeLog(tempDir(), 'd.log', body);
  const [ours, pt] = await Promise.all([analyze(file), ptQueryDigest(file)]);
  return {
    ours: new Map(ours.results.map((r) => [r.fingerprint, r.count])),
    pt: new Map(pt.map((c) => [c.fingerprint, c.count])),
    entries: ours.entries,
  };
}

const entry = (query: string, second: number) =>
  mysqlEntry({ micros: 1.7e15 + second * 1e6, user: 'app', ip: '10.0.0.9', queryTime: 0.5, lockTime: 0, rowsSent: 1, rowsExamined: 1, query });

describe('pt-query-digest defects that we do not have', () => {
  it("a doubled quote inside a string is one literal, not '??'", async () => {
    const r = await both(entry("SELECT * FROM t WHERE name = 'it''s'", 1) + entry("SELECT * FROM t WHERE name = 'plain'", 2));
    expect(r.pt.get('select * from t where name = ??')).toBe(1);
    expect(r.ours.get('select * from t where name = ?')).toBe(2);
  });

  it('an upper-case hex literal is one literal', async () => {
    const r = await both(entry('SELECT * FROM t WHERE h = 0x1F3A', 1) + entry('SELECT * FROM t WHERE h = 0x00ff', 2));
    expect(r.pt.get('select * from t where h = ?f?a')).toBe(1);
    expect(r.ours.get('select * from t where h = ?')).toBe(2);
  });

  it('comment markers inside strings and quotes inside comments are told apart', async () => {
    const r = await both(
      entry("SELECT a FROM t -- it's the index\nWHERE b = 'x'", 1) +
        entry("SELECT a FROM t WHERE b = '-- not a comment'", 2) +
        entry("SELECT a FROM t WHERE b = 'y'", 3),
    );
    expect(r.pt.get('select a from t where b = ?')).toBe(2);
    expect(r.ours.get('select a from t where b = ?')).toBe(3);
  });

  it('a truncated entry is not merged into the next one', async () => {
    const cut = entry('SELECT * FROM big WHERE id = 1', 1).replace(/;\n$/, '\n');
    const r = await both(cut + entry('UPDATE t SET a = 2', 2) + entry('UPDATE t SET a = 3', 3));
    expect(r.pt.get('update t set a = ?')).toBe(1);
    expect(r.ours.get('update t set a = ?')).toBe(2);
    expect(r.ours.get('select * from big where id = ?')).toBe(1);
  });

  it('a MariaDB restart banner is not merged into the previous statement', async () => {
    const r = await both(entry('SELECT * FROM t WHERE id = 1', 1) + MARIADB_BANNER + entry('SELECT * FROM t WHERE id = 2', 2));
    // pt-query-digest only knows `mysqld, Version:` banners: it glues both entries and the banner together.
    expect([...r.pt.values()]).toEqual([1]);
    expect([...r.pt.keys()][0]).toContain('mariadbd');
    expect(r.ours.get('select * from t where id = ?')).toBe(2);
    expect(r.entries).toBe(2);
  });

  it('only the word ASC is dropped after ORDER BY, not the start of ascii_col', async () => {
    const r = await both(entry('SELECT a FROM t ORDER BY a, ascii_col', 1));
    expect(r.pt.get('select a from t order by a,ii_col')).toBe(1);
    expect(r.ours.get('select a from t order by a, ascii_col')).toBe(1);
  });

  it('blank lines between entries do not merge them', async () => {
    const r = await both(entry('SELECT 1', 1) + '\n' + entry('DELETE FROM t WHERE id = 5', 2));
    expect(r.pt.size).toBe(1);
    expect(r.ours.get('select ?')).toBe(1);
    expect(r.ours.get('delete from t where id = ?')).toBe(1);
  });
});
