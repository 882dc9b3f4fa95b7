import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { gunzipSync, createGunzip } from 'node:zlib';
import { ParallelGzip } from '../../src/jobs/parallel-gzip.js';

async function compress(input: Buffer[], opts: ConstructorParameters<typeof ParallelGzip>[0]): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from(input), new ParallelGzip(opts), new Writable({ write: (c, _e, cb) => (out.push(c), cb()) }));
  return Buffer.concat(out);
}

describe('ParallelGzip', () => {
  // Compressible but not trivial: SQL-like text with random numbers.
  const text = Buffer.from(
    Array.from({ length: 120_000 }, (_, i) => `INSERT INTO t VALUES (${i},'${randomBytes(6).toString('hex')}');\n`).join(''),
  );

  it('produces multi-member gzip that gunzip, zcat and Node read back byte for byte', async () => {
    const chunks = [];
    for (let i = 0; i < text.length; i += 7919) chunks.push(text.subarray(i, i + 7919)); // odd chunk sizes
    const gz = await compress(chunks, { blockSize: 256 * 1024, concurrency: 3 });
    expect(gunzipSync(gz).equals(text)).toBe(true);
    expect(execFileSync('gzip', ['-dc'], { input: gz, maxBuffer: 64 << 20 }).equals(text)).toBe(true);
    // several members: the input was cut into ~256 KiB blocks
    let members = 0;
    for (let i = 0; i + 2 < gz.length; i++) if (gz[i] === 0x1f && gz[i + 1] === 0x8b && gz[i + 2] === 8) members++;
    expect(members).toBeGreaterThanOrEqual(Math.floor(text.length / (256 * 1024)));
    const streamed: Buffer[] = [];
    await pipeline(Readable.from([gz]), createGunzip(), new Writable({ write: (c, _e, cb) => (streamed.push(c), cb()) }));
    expect(Buffer.concat(streamed).equals(text)).toBe(true);
  });

  it('handles empty input and input smaller than a block', async () => {
    expect(gunzipSync(await compress([], {})).length).toBe(0);
    expect(gunzipSync(await compress([Buffer.from('x')], {})).toString()).toBe('x');
  });

  it('honours the level: 1 is larger than 9', async () => {
    const fast = await compress([text], { level: 1 });
    const small = await compress([text], { level: 9 });
    expect(fast.length).toBeGreaterThan(small.length);
  });
});
