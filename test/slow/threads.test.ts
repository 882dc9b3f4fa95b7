import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { partCount } from '../../src/slow/analyze.js';
import { splitOffsets } from '../../src/slow/part.js';
import { analyze, tempDir, writeLog } from './helpers.js';

// Worker threads must not change a single number of the report: parts of a file are merged in
// order, the database carried by `use` lines crosses part boundaries, and ties keep the first sample.

const GENERATOR = join(import.meta.dirname, '../../bench/gen-slowlog.mjs');

function generated(dir: string, name: string, mb: string, seed: string): string {
  const file = join(dir, name);
  execFileSync('node', [GENERATOR, file, mb, seed]);
  return file;
}

describe('worker threads', () => {
  const dir = tempDir();
  const big = generated(dir, 'big.log', '3', '11');

  it('cuts a file only at the first line of an entry', async () => {
    const size = statSync(big).size;
    const offsets = await splitOffsets(big, size, 16);
    expect(offsets.length).toBe(15);
    const text = readFileSync(big);
    for (const at of offsets) {
      expect(text[at - 1]).toBe(0x0a);
      const line = text.subarray(at, at + 13).toString();
      expect(line.startsWith('# Time:') || line.startsWith('# User@Host:'), line).toBe(true);
      if (line.startsWith('# User@Host:')) {
        const prev = text.subarray(text.lastIndexOf(0x0a, at - 2) + 1, at).toString();
        expect(prev.startsWith('# Time:')).toBe(false);
      }
    }
  });

  it('give the same report as one thread, with and without filters', async () => {
    const one = await analyze(big, { threads: 1 });
    expect(one.entries).toBeGreaterThan(5000);
    // ~40 parts of 75 KB on 3 threads: many part boundaries, many inherited databases.
    const many = await analyze(big, { threads: 3, partBytes: 75_000 });
    expect(many).toEqual(one);
    const filters = [{ db: 'shop' }, { db: 'billing', user: 'app' }, { host: '10.0.0.2' }];
    for (const filter of filters) {
      const a = await analyze(big, { threads: 1, filter });
      expect(a.filtered).toBeGreaterThan(0);
      expect(await analyze(big, { threads: 2, partBytes: 100_000, filter })).toEqual(a);
    }
  }, 120_000);

  it('give the same report for a folder of plain and gzip files', async () => {
    const folder = tempDir();
    copyFileSync(big, join(folder, 'a.log'));
    writeFileSync(join(folder, 'b.log.gz'), gzipSync(readFileSync(generated(dir, 'b.log', '1', '12'))));
    generated(folder, 'c.log', '2', '13');
    const one = await analyze(folder, { threads: 1 });
    expect(one.files).toBe(3);
    expect(await analyze(folder, { threads: 2, partBytes: 200_000 })).toEqual(one);
  }, 120_000);

  it('read a file in sequence when an entry with no time at all would take it from another part', async () => {
    // MySQL 5.0-style entries: no `# Time:` and no `SET timestamp=`; each takes the last time seen.
    const timed =
      '# Time: 2025-01-01T00:00:00.000000Z\n# User@Host: a[a] @  [1.1.1.1]\n# Query_time: 1  Lock_time: 0 Rows_sent: 0  Rows_examined: 0\nuse shop;\nSET timestamp=1735689600;\nSELECT 1;\n';
    const untimed = (i: number) =>
      `# User@Host: a[a] @  [1.1.1.1]\n# Query_time: 0.${i % 10}  Lock_time: 0 Rows_sent: 0  Rows_examined: 0\nSELECT ${i} FROM t${i % 3};\n`;
    let text = timed;
    for (let i = 0; i < 4000; i++) text += untimed(i);
    const file = writeLog(tempDir(), 'untimed.log', text);
    const one = await analyze(file, { threads: 1 });
    expect(one.first_seen).toBe('2025-01-01T00:00:00.000000Z');
    expect(one.last_seen).toBe('2025-01-01T00:00:00.000000Z');
    expect(one.results.every((r) => r.databases.join() === 'shop')).toBe(true);
    expect(await analyze(file, { threads: 2, partBytes: 20_000 })).toEqual(one);
  });

  it('read a part that does not fit in a worker\'s heap in this thread instead', async () => {
    // An 8 MB statement in the second part: the worker (heap bounded to 8 MB here) runs out of
    // memory on it, and this thread reads that part; the report is the one thread's.
    const entry = (i: number, query: string) =>
      `# Time: 2025-01-01T00:00:${String(i % 60).padStart(2, '0')}.000000Z\n# User@Host: a[a] @  [1.1.1.1]\n# Query_time: 0.${i % 9}  Lock_time: 0 Rows_sent: 0  Rows_examined: 0\nSET timestamp=1735689600;\n${query};\n`;
    let text = '';
    for (let i = 0; i < 40_000; i++) text += entry(i, `SELECT ${i} FROM t WHERE a = 'x${i}'`);
    text += entry(7, `SELECT * FROM t WHERE id IN (${Array.from({ length: 1_000_000 }, (_, i) => i % 10_000_000).join(',')})`);
    for (let i = 0; i < 100; i++) text += entry(i, `UPDATE t SET b = ${i}`);
    const file = writeLog(tempDir(), 'huge.log', text);
    const one = await analyze(file, { threads: 1 });
    const two = await analyze(file, { threads: 2, partBytes: Math.floor(statSync(file).size / 2.5), workerHeapMb: 8 });
    expect(two).toEqual(one);
    expect(one.entries).toBe(40_101);
  }, 120_000);

  it('use one part per thread by default, more only for very large files', () => {
    const MB = 1 << 20;
    expect(partCount(20 * MB, 2)).toBe(1); // below 32 MB a worker costs more than it saves
    expect(partCount(100 * MB, 2)).toBe(2);
    expect(partCount(100 * MB, 1)).toBe(1);
    expect(partCount(1024 * MB, 2)).toBe(4);
    expect(partCount(100_000 * MB, 2)).toBe(8);
    expect(partCount(100 * MB, 4)).toBe(4);
    // Tests ask for parts of a given size: at most four per thread.
    expect(partCount(3 * MB, 3, 75_000)).toBe(12);
    expect(partCount(3 * MB, 2, 1 * MB)).toBe(3);
  });
});
