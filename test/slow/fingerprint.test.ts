import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fingerprint, fingerprintId, maskQuery } from '../../src/slow/index.js';
import { QuantileSketch, RELATIVE_ACCURACY } from '../../src/slow/quantile.js';

describe('fingerprint', () => {
  it.each([
    ['SELECT * FROM t WHERE a IN (1, 2, 3) LIMIT 5, 10', 'select * from t where a in(?+) limit ?'],
    ["SELECT /* hint */ name FROM t WHERE s = 'a''b' AND h = 0xABCDEF", 'select name from t where s = ? and h = ?'],
    ['INSERT INTO t (a) VALUES (1), (2) ON DUPLICATE KEY UPDATE a = 3', 'insert into t (a) values(?+)'],
    ['CALL refresh(1, 2)', 'call refresh'],
    ['select a from t order by a ASC, b asc', 'select a from t order by a, b'],
    ["SELECT 'x -- y' FROM t # trailing\n", 'select ? from t '],
    ['SELECT `col1` FROM `db2`.t', 'select `col?` from `d?`.t'],
    ['SELECT a FROM t WHERE b IS NULL AND c = TRUE', 'select a from t where b is ? and c = ?'],
  ])('%s', (query, expected) => {
    expect(fingerprint(query)).toBe(expected);
  });

  // Long literal lists are collapsed as they are scanned; what is not a plain literal list takes the general rules.
  it.each([
    [`SELECT a FROM t WHERE id IN (${Array.from({ length: 20000 }, (_, i) => i * 7).join(',')})`, 'select a from t where id in(?+)'],
    ["select a from t where x in( 1, -2, +3.5, 'a\\'b', \"c\"\"d\", 'e,f)' ) and y in (1,2,3,4), (5, 6)", 'select a from t where x in(?+) and y in(?+)'],
    ['select a from t where (b) IN\n(1,2,3,4) order by a', 'select a from t where (b) in(?+) order by a'],
    ['select a from t where id in (1,2,3,x)', 'select a from t where id in (?,?,?,x)'],
    ['select a from t where id in (1,2,0x1F,4)', 'select a from t where id in(?+)'],
    ['select a from t where id in (1,2,3, /* c */ 4)', 'select a from t where id in(?+)'],
    ['select min (1,2,3,4), join (1,2,3,4) from t', 'select min (?,?,?,?), join (?,?,?,?) from t'],
    ['select a from t where id in (1,2,3,4', 'select a from t where id in (?,?,?,?'],
    ["select a from t where id in (1,2,3,'4", 'select a from t where id in (?,?,?,?'],
  ])('IN list %#', (query, expected) => {
    expect(fingerprint(query)).toBe(expected);
  });

  it('IDs are the last 16 hex digits of the MD5, upper case', () => {
    const fp = 'select ?';
    expect(fingerprintId(fp)).toBe(createHash('md5').update(fp).digest('hex').slice(16).toUpperCase());
  });
});

describe('maskQuery (the Go tool --mask)', () => {
  it('replaces numbers and strings, keeps identifiers and layout', () => {
    expect(maskQuery("SELECT c1 FROM t2 WHERE a = 12.5 AND b = 'it''s' AND c = \"x\"")).toBe(
      'SELECT c1 FROM t2 WHERE a = ? AND b = ? AND c = ?',
    );
  });
});

describe('QuantileSketch', () => {
  it('is exact for small groups and within its stated relative accuracy for large ones', () => {
    const small = new QuantileSketch();
    const values = [5, 1, 4, 2, 3];
    values.forEach((v) => small.add(v));
    expect(small.quantile(0.95)).toBe(5);
    const big = new QuantileSketch();
    const many: number[] = [];
    let seed = 3;
    for (let i = 0; i < 100_000; i++) {
      seed = (seed * 16807) % 2147483647;
      const v = Math.exp((seed / 2147483647) * 12 - 9); // 0.1 ms .. 20 s, log-uniform
      many.push(v);
      big.add(v);
    }
    many.sort((a, b) => a - b);
    const truth = many[Math.ceil(0.95 * many.length) - 1]!;
    expect(Math.abs(big.quantile(0.95) - truth) / truth).toBeLessThanOrEqual(RELATIVE_ACCURACY);
  });
});
