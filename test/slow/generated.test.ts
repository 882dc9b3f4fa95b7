import { describe, expect, it } from 'vitest';
import { analyze, type EntrySpec, mariadbEntry, MARIADB_BANNER, mysqlEntry, MYSQL_BANNER, tempDir, writeLog } from './helpers.js';

/** Deterministic pseudo-random numbers, so a failure can be reproduced. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
}

interface Shape {
  name: string;
  make: (r: () => number) => string;
  /** Recognises this shape's statements in the unmasked sample query. */
  matches: RegExp;
}

const shapes: Shape[] = [
  {
    name: 'point select',
    make: (r) => `SELECT * FROM orders WHERE id = ${Math.floor(r() * 1e6)}`,
    matches: /^SELECT \* FROM orders WHERE id = \d+$/,
  },
  {
    name: 'multi-line join',
    make: (r) =>
      `SELECT o.id, c.name\nFROM orders o\n  JOIN customers c ON c.id = o.customer_id\nWHERE c.name = 'n${Math.floor(r() * 99)}'`,
    matches: /^SELECT o\.id, c\.name\nFROM orders o/,
  },
  {
    name: 'update with doubled quote',
    make: (r) => `UPDATE notes SET body = 'it''s ${Math.floor(r() * 9)}' WHERE id = ${Math.floor(r() * 99)}`,
    matches: /^UPDATE notes SET body/,
  },
  {
    name: 'in list',
    make: (r) =>
      `DELETE FROM sessions WHERE id IN (${Array.from({ length: 1 + Math.floor(r() * 6) }, () => Math.floor(r() * 1e5)).join(', ')})`,
    matches: /^DELETE FROM sessions WHERE id IN \(/,
  },
];

interface Expected {
  count: number;
  total: number;
  min: number;
  max: number;
  lockTotal: number;
  lockMax: number;
  sent: number;
  examined: number;
  times: number[];
  dbs: Set<string>;
  users: Set<string>;
}

function generate(seed: number, n: number, format: 'mysql' | 'mariadb') {
  const r = rng(seed);
  const expected = new Map<string, Expected>();
  let text = '';
  let micros = Date.UTC(2025, 0, 1, 8) * 1000;
  let lastDb = '';
  for (let i = 0; i < n; i++) {
    if (i === Math.floor(n / 2)) text += format === 'mysql' ? MYSQL_BANNER : MARIADB_BANNER;
    const shape = shapes[Math.floor(r() * shapes.length)]!;
    micros += 1_000_000 + Math.floor(r() * 1000);
    const db = ['shop', 'crm'][Math.floor(r() * 2)]!;
    const spec: EntrySpec = {
      micros,
      user: ['app', 'report'][Math.floor(r() * 2)]!,
      ip: '10.1.2.3',
      // Whole microseconds, as the server writes them.
      queryTime: Math.round(r() * 5e6) / 1e6,
      lockTime: Math.round(r() * 1e3) / 1e6,
      rowsSent: Math.floor(r() * 100),
      rowsExamined: Math.floor(r() * 10000),
      use: format === 'mysql' && db !== lastDb ? db : undefined,
      query: shape.make(r),
    };
    lastDb = db;
    text += format === 'mysql' ? mysqlEntry(spec) : mariadbEntry({ ...spec, schema: db });
    const e = expected.get(shape.name) ?? {
      count: 0,
      total: 0,
      min: Infinity,
      max: -Infinity,
      lockTotal: 0,
      lockMax: 0,
      sent: 0,
      examined: 0,
      times: [],
      dbs: new Set<string>(),
      users: new Set<string>(),
    };
    e.count++;
    e.total += spec.queryTime;
    e.min = Math.min(e.min, spec.queryTime);
    e.max = Math.max(e.max, spec.queryTime);
    e.lockTotal += spec.lockTime;
    e.lockMax = Math.max(e.lockMax, spec.lockTime);
    e.sent += spec.rowsSent;
    e.examined += spec.rowsExamined;
    e.times.push(spec.queryTime);
    e.dbs.add(db);
    e.users.add(spec.user);
    expected.set(shape.name, e);
  }
  return { text, expected };
}

function nearestRank(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}

describe.each(['mysql', 'mariadb'] as const)('generated %s slow log with known values', (format) => {
  const { text, expected } = generate(format === 'mysql' ? 7 : 11, 400, format);
  const dir = tempDir();
  const plain = writeLog(dir, 'slow.log', text);
  const gz = writeLog(dir, 'slow.log.gz', text, true);

  it('finds one group per statement shape with the right totals, extremes and p95', async () => {
    const report = await analyze(plain);
    expect(report.entries).toBe(400);
    expect(report.skipped).toBe(0);
    expect(report.groups).toBe(expected.size);
    for (const shape of shapes) {
      const want = expected.get(shape.name)!;
      const got = report.results.filter((r) => shape.matches.test(r.query));
      expect(got, shape.name).toHaveLength(1);
      const g = got[0]!;
      expect(g.count, shape.name).toBe(want.count);
      expect(g.query_time_total).toBeCloseTo(want.total, 5);
      expect(g.query_time_min).toBe(want.min);
      expect(g.query_time_max).toBe(want.max);
      expect(g.query_time).toBe(want.max);
      expect(g.query_time_avg).toBeCloseTo(want.total / want.count, 5);
      expect(g.query_time_p95).toBe(nearestRank(want.times, 0.95));
      expect(g.lock_time_total).toBeCloseTo(want.lockTotal, 6);
      expect(g.lock_time_max).toBe(want.lockMax);
      expect(g.rows_sent_total).toBe(want.sent);
      expect(g.rows_examined_total).toBe(want.examined);
      expect(new Set(g.databases)).toEqual(want.dbs);
      expect(new Set(g.users)).toEqual(want.users);
      expect(g.hosts).toEqual([format === 'mysql' ? '10.1.2.3' : 'app.local']);
      expect(g.fingerprint_id).toMatch(/^[0-9A-F]{16}$/);
    }
  });

  it('gives the same report for the gzip copy', async () => {
    expect(await analyze(gz)).toEqual(await analyze(plain));
  });

  it('applies --db, --user and --since/--until filters', async () => {
    const all = await analyze(plain);
    const shop = await analyze(plain, { filter: { db: 'shop' } });
    const crm = await analyze(plain, { filter: { db: 'crm' } });
    const sum = (r: typeof all) => r.results.reduce((n, g) => n + g.count, 0);
    expect(sum(shop) + sum(crm)).toBe(sum(all));
    expect(sum(shop)).toBeGreaterThan(0);
    expect(shop.results.every((g) => g.databases.join() === 'shop')).toBe(true);
    const app = await analyze(plain, { filter: { user: 'app' } });
    expect(app.results.every((g) => g.users.join() === 'app')).toBe(true);
    const firstHour = Date.UTC(2025, 0, 1, 8) * 1000;
    const early = await analyze(plain, { filter: { until: firstHour + 100 * 1_000_000 } });
    // Entries are ~1 s apart starting at 08:00:01, so the first 100 s hold 99 or 100 of them.
    expect(sum(early)).toBeGreaterThanOrEqual(98);
    expect(sum(early)).toBeLessThanOrEqual(100);
    expect(early.filtered).toBe(400 - sum(early));
  });
});

describe('log layouts', () => {
  it('splits entries separated by blank lines, and a truncated statement from the next entry', async () => {
    const e = (q: string, t: number) =>
      mysqlEntry({ micros: 1e15 + t, user: 'u', ip: '1.1.1.1', queryTime: 1, lockTime: 0, rowsSent: 0, rowsExamined: 0, query: q });
    const text = e('SELECT 1', 1) + '\n' + e('SELECT 2', 2).replace(/;\n$/, '') + '\n' + e('UPDATE t SET a = 1', 3);
    const report = await analyze(writeLog(tempDir(), 'a.log', text));
    expect(report.entries).toBe(3);
    expect(report.results.map((r) => [r.fingerprint, r.count]).sort()).toEqual([
      ['select ?', 2],
      ['update t set a = ?', 1],
    ]);
  });

  it('reads MySQL 5.6 entries without "# Time:" lines and a many-megabyte statement', async () => {
    const big = `INSERT INTO blobs VALUES ('${'x'.repeat(6 * 1024 * 1024)}')`;
    const text =
      '# Time: 150107 14:02:52\n# User@Host: a[a] @ localhost []\n# Query_time: 2.5  Lock_time: 0.0 Rows_sent: 0  Rows_examined: 0\nSET timestamp=1420639372;\nSELECT 1;\n' +
      '# User@Host: a[a] @ localhost []\n# Query_time: 1.5  Lock_time: 0.0 Rows_sent: 0  Rows_examined: 0\nSET timestamp=1420639372;\nSELECT 2;\n' +
      `# User@Host: a[a] @ localhost []\n# Query_time: 0.5  Lock_time: 0.0 Rows_sent: 0  Rows_examined: 0\nSET timestamp=1420639373;\n${big};\n` +
      '# User@Host: a[a] @ localhost []\n# Query_time: 0.1  Lock_time: 0.0 Rows_sent: 0  Rows_examined: 0\nSET timestamp=1420639373;\n# administrator command: Quit;\n';
    const report = await analyze(writeLog(tempDir(), 'b.log', text));
    expect(report.entries).toBe(4);
    const byFp = new Map(report.results.map((r) => [r.fingerprint, r]));
    expect(byFp.get('select ?')?.count).toBe(2);
    expect(byFp.get('select ?')?.query_time_total).toBe(4);
    expect(byFp.get('insert into blobs values(?+)')?.count).toBe(1);
    expect(byFp.get('administrator command: Quit')?.count).toBe(1);
    expect(byFp.get('select ?')?.first_seen).toBe('2015-01-07T14:02:52.000000Z');
  });

  it('takes the time from SET timestamp when "# Time:" names no zone (a server not on UTC)', async () => {
    // 16:02:52 local time at UTC+2 is 14:02:52 UTC, which is what SET timestamp says.
    const text =
      '# Time: 150107 16:02:52\n# User@Host: a[a] @ localhost []\n# Thread_id: 3  Schema: shop  QC_hit: No\n' +
      '# Query_time: 2.5  Lock_time: 0.0  Rows_sent: 0  Rows_examined: 0\nSET timestamp=1420639372;\nSELECT 1;\n' +
      '# User@Host: a[a] @ localhost []\n# Thread_id: 3  Schema: shop  QC_hit: No\n' +
      '# Query_time: 1.5  Lock_time: 0.0  Rows_sent: 0  Rows_examined: 0\nSET timestamp=1420639373;\nSELECT 2;\n';
    const report = await analyze(writeLog(tempDir(), 'tz.log', text));
    expect(report.first_seen).toBe('2015-01-07T14:02:52.000000Z');
    expect(report.last_seen).toBe('2015-01-07T14:02:53.000000Z');
    expect(report.results[0]!.time).toBe('150107 16:02:52');
  });

  it('forgets the last `use db` at a server restart, and reads an empty MariaDB Schema as no database', async () => {
    const e = (q: string, use?: string) =>
      mysqlEntry({ micros: 1e15, user: 'u', ip: '1.1.1.1', queryTime: 1, lockTime: 0, rowsSent: 0, rowsExamined: 0, use, query: q });
    const mysqlText = e('SELECT 1', 'shop') + e('SELECT 2') + MYSQL_BANNER + e('UPDATE t SET a = 1');
    const mysqlReport = await analyze(writeLog(tempDir(), 'm.log', mysqlText));
    expect(new Map(mysqlReport.results.map((r) => [r.fingerprint, r.databases]))).toEqual(
      new Map([
        ['select ?', ['shop']],
        ['update t set a = ?', []],
      ]),
    );
    const maria = (schema: string, q: string) =>
      `# User@Host: u[u] @  [1.1.1.1]\n# Thread_id: 4  Schema: ${schema}  QC_hit: No\n` +
      `# Query_time: 0.1  Lock_time: 0.0  Rows_sent: 0  Rows_examined: 0\n# Rows_affected: 0  Bytes_sent: 11\nSET timestamp=1420639372;\n${q};\n`;
    const mariaReport = await analyze(writeLog(tempDir(), 'mdb.log', maria('shop', 'SELECT 1') + maria(' ', 'UPDATE t SET a = 1')));
    expect(new Map(mariaReport.results.map((r) => [r.fingerprint, r.databases]))).toEqual(
      new Map([
        ['select ?', ['shop']],
        ['update t set a = ?', []],
      ]),
    );
  });
});

describe('multi-byte text', () => {
  it('keeps UTF-8 characters whole where reads and parts cut the file', async () => {
    const glyphs = ['é', '日本', '😀', 'ß', 'Ω'];
    const names: string[] = [];
    let text = '';
    for (let i = 0; i < 6000; i++) {
      // A name of multi-byte characters unique to the entry (digits would become '?').
      const name = `表${[...i.toString(5).padStart(6, '0')].map((d) => glyphs[Number(d)]).join('')}`;
      names.push(name);
      text += mysqlEntry({
        micros: 1e15 + i,
        user: 'u',
        ip: '1.1.1.1',
        queryTime: 0.5,
        lockTime: 0,
        rowsSent: 0,
        rowsExamined: 0,
        query: `SELECT '${name}' FROM ${name}`,
      });
    }
    const file = writeLog(tempDir(), 'utf8.log', text);
    const expected = names.map((n) => `select ? from ${n}`).sort();
    for (const options of [{ threads: 1 }, { threads: 2, partBytes: 100_000 }]) {
      const report = await analyze(file, options);
      expect(report.skipped).toBe(0);
      expect(report.results.map((r) => r.fingerprint).sort()).toEqual(expected);
    }
  });
});
