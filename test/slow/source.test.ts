import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { forEachLine, openLogText } from '../../src/slow/source.js';
import { tempDir } from './helpers.js';

async function lines(path: string, start?: number, end?: number): Promise<string[]> {
  const out: string[] = [];
  await forEachLine(await openLogText(path, start, end), (line) => out.push(line));
  return out;
}

describe('reading a plain slow log', () => {
  it('keeps every line and every character across read chunks, ASCII and not', async () => {
    const dir = tempDir();
    // Lines of varied length with 2-, 3- and 4-byte characters here and there: over many 64 KiB reads,
    // some characters are cut by a read, some chunks are pure ASCII and some are not, and one line
    // spans several reads.
    const expected: string[] = [];
    for (let i = 0; i < 40_000; i++) {
      const pad = 'x'.repeat((i * 7919) % 97);
      expected.push(i % 50 === 7 ? `-- ${i} é€😀 ${pad}` : `# line ${i} ${pad}`);
    }
    expected.splice(20_000, 0, 'y'.repeat(300_000) + 'ü');
    const path = join(dir, 'slow.log');
    writeFileSync(path, expected.join('\n') + '\n');
    expect(await lines(path)).toEqual(expected);
    // The same through gunzip, whose 64 KiB pieces cut characters elsewhere.
    const gz = join(dir, 'slow.log.gz');
    writeFileSync(gz, gzipSync(expected.join('\n') + '\n'));
    expect(await lines(gz)).toEqual(expected);
  });

  it('reads exactly a byte range, as the threads do', async () => {
    const dir = tempDir();
    const text = Array.from({ length: 30_000 }, (_, i) => `line ${i} ${'é'.repeat(i % 5)}`).join('\n') + '\n';
    const path = join(dir, 'slow.log');
    writeFileSync(path, text);
    const bytes = Buffer.from(text);
    const cut = bytes.indexOf('\nline 17000 ') + 1;
    const first = await lines(path, 0, cut);
    const second = await lines(path, cut);
    expect(first.length).toBe(17_000);
    expect([...first, ...second]).toEqual(text.trimEnd().split('\n'));
  });
});
