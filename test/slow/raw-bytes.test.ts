import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { analyze, tempDir } from './helpers.js';
import { rng } from '../../testutils/rng.js';

// Issue 15: statements whose string literals hold raw bytes (MariaDB logs prepared-statement
// parameters unescaped under NO_BACKSLASH_ESCAPES; text-protocol clients may send raw control
// bytes) are statement text, whatever the bytes: none of them may be counted as skipped or glued
// to another entry. Generated with a fixed seed: a failure can be reproduced.


/**
 * Pieces a literal is made of. Everything is allowed but the quote and the backslash (they would
 * end the literal or depend on the server's sql_mode) and a line starting `# Query_time:` after
 * only `#` lines: that is an entry header to every reader (pt-query-digest, line counters, us).
 */
const PIECES: ((r: () => number) => Buffer)[] = [
  // Any control byte, NUL, CR, LF, FF, VT included.
  (r) => Buffer.from(Array.from({ length: 1 + Math.floor(r() * 8) }, () => Math.floor(r() * 0x20))),
  // Bytes 0x80-0xFF alone: invalid UTF-8.
  (r) => Buffer.from(Array.from({ length: 1 + Math.floor(r() * 6) }, () => 0x80 + Math.floor(r() * 0x80))),
  // Valid multi-byte UTF-8, NEL and LINE SEPARATOR included.
  (r) => Buffer.from(['é', '日本', '😀', '\u0085', '\u2028', '\u00a0'][Math.floor(r() * 6)]!),
  // Lines that look like the lines of a slow log.
  (r) =>
    Buffer.from(
      [
        '\n# Time: 250101 10:00:00\n',
        '\n# User@Host: app[app] @  [10.0.0.1]\n',
        '\n# User@Host: a[a] @ h []\n# Thread_id: 4  Schema: x  QC_hit: No\n',
        '\n# Note: header-like\n',
        ';\n# Time: 2025-01-01T00:00:00.000000Z\n',
        ';\n# Foo: bar;\n',
        '\n#\n',
        '\n# administrator command: Quit;\n',
        '\nuse other;\nSET timestamp=1;\n',
        '\n/usr/sbin/mariadbd, Version: 10.11.6-MariaDB-log (Debian 12). started\n',
        '\r\n\r\n',
        '\n\n\n',
        '\r',
        '\n# Time: 250101 10:00:00\n# Time: 250101 10:00:01\n',
        '\n# User@Host: a[a] @ h []\n# User@Host: b[b] @ h []\n# Thread_id: 5  Schema: y  QC_hit: No\n',
        '\n# Time: 250101 10:00:00\n# administrator command: Quit\n',
        '\n# Thread_id: 6  Schema: z  QC_hit: No\n#\n',
      ][Math.floor(r() * 17)]!,
    ),
  (r) => Buffer.from(`'' ${'abc#;: '.repeat(1 + Math.floor(r() * 5))}`),
  // Every byte but the quote and the backslash, in order.
  () => Buffer.from(Array.from({ length: 256 }, (_, i) => i).filter((b) => b !== 0x27 && b !== 0x5c)),
];

function literal(r: () => number): Buffer {
  const parts: Buffer[] = [];
  // One literal in 40 is 100-300 KB.
  if (r() < 0.025) parts.push(Buffer.alloc(100_000 + Math.floor(r() * 200_000), 'q#\n;\0\x0b'.charAt(Math.floor(r() * 6))));
  const n = Math.floor(r() * 12);
  for (let i = 0; i < n; i++) parts.push(PIECES[Math.floor(r() * PIECES.length)]!(r));
  return Buffer.concat(parts);
}

const NAMES = ['alpha', 'bravo', 'charlie', 'delta', 'echo'];
const SHAPES = NAMES.length;

function generate(seed: number, n: number, format: 'mysql' | 'mariadb'): { log: Buffer; counts: number[] } {
  const r = rng(seed);
  const counts = new Array<number>(SHAPES).fill(0);
  const chunks: Buffer[] = [];
  let seconds = 1_735_718_400;
  for (let i = 0; i < n; i++) {
    seconds += Math.floor(r() * 3);
    const shape = Math.floor(r() * SHAPES);
    counts[shape]!++;
    const d = new Date(seconds * 1000);
    const header =
      format === 'mysql'
        ? `# Time: ${d.toISOString().replace('Z', '000Z')}\n# User@Host: app[app] @  [10.0.0.1]  Id:    ${i}\n` +
          `# Query_time: 0.${String(1 + Math.floor(r() * 9e5)).padStart(6, '0')}  Lock_time: 0.000001 Rows_sent: 1  Rows_examined: 1\n`
        : (r() < 0.5 ? `# Time: ${d.toISOString().slice(2, 10).replaceAll('-', '')} ${d.toISOString().slice(11, 19)}\n` : '') +
          `# User@Host: app[app] @  [10.0.0.1]\n# Thread_id: ${i}  Schema: shop  QC_hit: No\n` +
          `# Query_time: 0.${String(1 + Math.floor(r() * 9e5)).padStart(6, '0')}  Lock_time: 0.000001  Rows_sent: 1  Rows_examined: 1\n` +
          `# Rows_affected: 0  Bytes_sent: 11\n`;
    chunks.push(Buffer.from(`${header}SET timestamp=${seconds};\nSELECT ${NAMES[shape]} FROM raw_${NAMES[shape]} WHERE v = '`));
    chunks.push(literal(r));
    // Some statements go on after the literal, over more lines.
    chunks.push(Buffer.from(r() < 0.3 ? `'\n  AND w = '` : ''));
    if (r() < 0.3) chunks.push(literal(r));
    chunks.push(Buffer.from(`';\n`));
  }
  return { log: Buffer.concat(chunks), counts };
}

describe.each(['mysql', 'mariadb'] as const)('raw bytes in %s statement literals', (format) => {
  const n = 600;
  const { log, counts } = generate(format === 'mysql' ? 15 : 1015, n, format);
  const dir = tempDir();
  const plain = join(dir, 'raw.log');
  writeFileSync(plain, log);
  const gz = join(dir, 'raw.log.gz');
  writeFileSync(gz, gzipSync(log));

  it('has what this test is about: control bytes, invalid UTF-8, header-like lines, 100 KB literals', () => {
    expect(log.length).toBeGreaterThan(1_000_000);
    for (const b of [0x00, 0x0b, 0x0c, 0x0d, 0x1f, 0xff]) expect(log.includes(b), `byte ${b}`).toBe(true);
    expect(log.toString('utf8')).toContain('\ufffd');
    const lines = log.toString('latin1').split('\n');
    const queryTimeLines = lines.filter((l) => l.startsWith('# Query_time:')).length;
    expect(queryTimeLines).toBe(n);
    // Header-like lines inside literals: more `# Time:`/`# User@Host:` lines than entries have.
    expect(lines.filter((l) => l.startsWith('# User@Host:')).length).toBeGreaterThan(n + 20);
    expect(lines.filter((l) => l.startsWith('# Note: ')).length).toBeGreaterThan(5);
  });

  it('counts every entry written, none skipped, each in its own statement shape', async () => {
    const report = await analyze(plain);
    expect(report.skipped).toBe(0);
    expect(report.entries).toBe(n);
    expect(report.results.reduce((sum, g) => sum + g.count, 0)).toBe(n);
    const byShape = new Array<number>(SHAPES).fill(0);
    for (const g of report.results) {
      const m = /^select ([a-z]+) from raw_\1 where v = \?(?: and w = \?)?$/.exec(g.fingerprint);
      expect(m, g.fingerprint.slice(0, 200)).not.toBeNull();
      byShape[NAMES.indexOf(m![1]!)]! += g.count;
    }
    expect(byShape).toEqual(counts);
    // A `Schema:` lookalike inside a literal is not the database of any entry.
    for (const g of report.results) expect(g.databases).toEqual(format === 'mysql' ? [] : ['shop']);
  });

  it('gives the same report on threads (parts cut anywhere) and for the gzip copy', async () => {
    const one = await analyze(plain, { threads: 1 });
    const parts = await analyze(plain, { threads: 3, partBytes: 40_000 });
    expect(parts).toEqual(one);
    expect(await analyze(gz, { threads: 2 })).toEqual(one);
  }, 60_000);
});
