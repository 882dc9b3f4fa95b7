import { describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import zlib, { gunzipSync, gzipSync, createGunzip } from 'node:zlib';
import { ParallelCompress, ParallelGzip, ParallelZstd, createZstdDecompress, zstdAvailable } from '../../src/jobs/parallel-compress.js';
import { rng } from '../../testutils/rng.js';

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

  it('makes each member on its kept (reset) context as gzip of that block alone does', async () => {
    const block = 64 * 1024;
    const input = text.subarray(0, 8 * block);
    const gz = await compress([input], { blockSize: block, concurrency: 2 });
    const alone = Array.from({ length: 8 }, (_, i) => gzipSync(input.subarray(i * block, (i + 1) * block), { level: 6 }));
    expect(gz.equals(Buffer.concat(alone))).toBe(true);
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

describe('ParallelCompress (the shared block-parallel transform)', () => {
  it('emits blocks in input order whatever order they finish in, with at most `concurrency` in flight', async () => {
    const rand = rng(18);
    let inflight = 0;
    let most = 0;
    const codec = async (b: Buffer) => {
      inflight++;
      most = Math.max(most, inflight);
      await new Promise((r) => setTimeout(r, Math.floor(rand() * 8)));
      inflight--;
      return Buffer.concat([Buffer.from(`[${b.length}]`), b]);
    };
    const input = randomBytes(300_000);
    const chunks: Buffer[] = [];
    for (let i = 0; i < input.length; ) {
      const n = 1 + Math.floor(rand() * 20_000);
      chunks.push(input.subarray(i, i + n));
      i += n;
    }
    const out: Buffer[] = [];
    await pipeline(Readable.from(chunks), new ParallelCompress(codec, { blockSize: 10_000, concurrency: 3 }), new Writable({ write: (c, _e, cb) => (out.push(c), cb()) }));
    // Every unit is its block, and the blocks come back in order.
    expect(out.length).toBe(30);
    expect(out.every((u) => u.toString('latin1').startsWith('[10000]'))).toBe(true);
    expect(Buffer.concat(out.map((u) => u.subarray('[10000]'.length))).equals(input)).toBe(true);
    expect(most).toBeLessThanOrEqual(3);
    expect(most).toBeGreaterThan(1);
  });
});

describe.skipIf(!zstdAvailable())('ParallelZstd (a Node with zstd in node:zlib)', () => {
  const text = Buffer.from(Array.from({ length: 120_000 }, (_, i) => `INSERT INTO t VALUES (${i},'${randomBytes(6).toString('hex')}');\n`).join(''));
  const zcompress = async (input: Buffer[], opts: ConstructorParameters<typeof ParallelZstd>[0] = {}) => {
    const out: Buffer[] = [];
    await pipeline(Readable.from(input), new ParallelZstd(opts), new Writable({ write: (c, _e, cb) => (out.push(c), cb()) }));
    return Buffer.concat(out);
  };
  const zstdCli = (args: string[], input: Buffer) => spawnSync('zstd', args, { input, maxBuffer: 256 << 20 });

  it('writes independent frames from randomly sized chunks that zstd -t accepts and zstd -dc and Node read back byte for byte', async () => {
    const rand = rng(7);
    const chunks: Buffer[] = [];
    for (let i = 0; i < text.length; ) {
      const n = 1 + Math.floor(rand() * 70_000);
      chunks.push(text.subarray(i, i + n));
      i += n;
    }
    const zst = await zcompress(chunks, { blockSize: 256 * 1024, concurrency: 3 });
    expect(zst.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))).toBe(true);
    expect(zstdCli(['-t', '-q'], zst).status).toBe(0);
    expect(zstdCli(['-dc'], zst).stdout.equals(text)).toBe(true);
    const streamed: Buffer[] = [];
    await pipeline(Readable.from([zst]), createZstdDecompress(), new Writable({ write: (c, _e, cb) => (streamed.push(c), cb()) }));
    expect(Buffer.concat(streamed).equals(text)).toBe(true);
    // One frame per ~256 KiB block, as `zstd -lv` counts them.
    const file = join(mkdtempSync(join(tmpdir(), 'onedump-zst-')), 'x.zst');
    writeFileSync(file, zst);
    const list = spawnSync('zstd', ['-lv', file], { encoding: 'latin1' });
    const frames = Number(/# Zstandard Frames:\s*(\d+)/.exec(list.stdout + list.stderr)?.[1] ?? NaN);
    expect(frames).toBe(Math.ceil(text.length / (256 * 1024)));
  });

  it('makes each frame on its kept context exactly as a fresh context would: frames depend on no earlier block', async () => {
    // Two lanes, eight blocks: every lane compresses four frames one after the other on one context.
    const block = 64 * 1024;
    const input = text.subarray(0, 8 * block);
    const zst = await zcompress([input], { blockSize: block, concurrency: 2 });
    // Each block alone through a new compressor (a fresh context): the same bytes, frame for frame.
    const alone = await Promise.all(Array.from({ length: 8 }, (_, i) => zcompress([input.subarray(i * block, (i + 1) * block)], { blockSize: block })));
    expect(zst.equals(Buffer.concat(alone))).toBe(true);
    // And every frame decompresses on its own.
    for (const [i, frame] of alone.entries()) expect(zstdCli(['-dc'], frame).stdout.equals(input.subarray(i * block, (i + 1) * block))).toBe(true);
  });

  it('handles empty input and input smaller than a block', async () => {
    const empty = await zcompress([]);
    expect(empty.length).toBeGreaterThan(0);
    expect(zstdCli(['-t', '-q'], empty).status).toBe(0);
    expect(zstdCli(['-dc'], empty).stdout.length).toBe(0);
    expect(zstdCli(['-dc'], await zcompress([Buffer.from('x')])).stdout.toString()).toBe('x');
  });

  it('streams a big input (48 MiB) that zstd -dc gives back with the same sha256', { timeout: 120_000 }, async () => {
    const rand = rng(11);
    const inHash = createHash('sha256');
    const pieces = function* () {
      for (let i = 0; i < 48 * 16; i++) {
        // 64 KiB of SQL-ish text with random numbers, then a random-length tail.
        const s = Buffer.from(Array.from({ length: 1200 }, () => `(${Math.floor(rand() * 1e9)},'x${Math.floor(rand() * 1e6)}'),`).join('') + '\n');
        inHash.update(s);
        yield s;
      }
    };
    const child = spawn('zstd', ['-dc'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const outHash = createHash('sha256');
    child.stdout.on('data', (c: Buffer) => outHash.update(c));
    const exited = new Promise<number | null>((r) => child.on('close', r));
    await pipeline(Readable.from(pieces()), new ParallelZstd(), child.stdin);
    expect(await exited).toBe(0);
    expect(outHash.digest('hex')).toBe(inHash.digest('hex'));
  });

  it('honours the level (1 is larger than 19), and a flipped byte fails both zstd -t and Node (frames carry checksums)', async () => {
    const fast = await zcompress([text.subarray(0, 1 << 20)], { level: 1 });
    const small = await zcompress([text.subarray(0, 1 << 20)], { level: 19 });
    expect(fast.length).toBeGreaterThan(small.length);
    const bad = Buffer.from(fast);
    bad[Math.floor(bad.length / 2)]! ^= 0x40;
    expect(zstdCli(['-t', '-q'], bad).status).not.toBe(0);
    await expect(pipeline(Readable.from([bad]), createZstdDecompress(), new Writable({ write: (_c, _e, cb) => cb() }))).rejects.toMatchObject({
      code: expect.stringMatching(/^ZSTD_error_/),
    });
  });
});

describe.skipIf(zstdAvailable())('zstd on a Node without it (Node 20)', () => {
  it('refuses with one sentence naming the Node version needed', () => {
    expect(typeof (zlib as unknown as Record<string, unknown>).zstdCompress).toBe('undefined');
    expect(() => new ParallelZstd()).toThrow(/^zstd needs Node\.js 22\.15 or later \(or 23\.8\+\), and this is Node\.js v\d+\.\d+\.\d+\.$/);
    expect(() => createZstdDecompress()).toThrow(/zstd needs Node\.js 22\.15/);
  });
});
