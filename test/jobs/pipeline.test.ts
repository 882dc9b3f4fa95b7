import { beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Readable, Writable } from 'node:stream';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { runPipeline } from '../../src/jobs/pipeline.js';
import { decryptStream } from '../../src/crypto/age.js';
import { readAll } from '../../testutils/streams.js';
import { LocalStorage } from '../../src/storage/local.js';
import type { Destination, Storage, StoredObject } from '../../src/storage/types.js';

async function produceChunks(out: Writable, chunks: Buffer[]): Promise<Record<string, never>> {
  for (const c of chunks) {
    if (!out.write(c)) await new Promise((r) => out.once('drain', r));
  }
  return {};
}

/** A storage that reads slowly and records the most bytes it ever had waiting, to check backpressure. */
class SlowStorage implements Storage {
  readonly kind = 'slow';
  received = Buffer.alloc(0);
  consumed = 0;
  constructor(private readonly delayMs: number) {}
  describe(k?: string) {
    return `slow:${k}`;
  }
  async put(key: string, body: Readable): Promise<StoredObject> {
    const parts: Buffer[] = [];
    for await (const c of body) {
      parts.push(c as Buffer);
      this.consumed += (c as Buffer).length;
      await new Promise((r) => setTimeout(r, this.delayMs));
    }
    this.received = Buffer.concat(parts);
    return { key, size: this.received.length, location: this.describe(key) };
  }
  async get(): Promise<Readable> {
    throw new Error('unused');
  }
  async *list() {}
  async stat() {
    return undefined;
  }
  async delete() {}
}

/** A storage that fails after reading some bytes. */
class FailingStorage extends SlowStorage {
  constructor(private readonly failAfter: number) {
    super(0);
  }
  override async put(key: string, body: Readable): Promise<StoredObject> {
    let n = 0;
    for await (const c of body) {
      n += (c as Buffer).length;
      if (n >= this.failAfter) throw Object.assign(new Error('disk on fire'), { permanent: true });
    }
    return { key, size: n, location: key };
  }
}

describe('pipeline', () => {
  it('tees identical bytes to every destination and reports their sha256', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-pipe-'));
    const chunks = Array.from({ length: 64 }, () => randomBytes(64 * 1024));
    const expected = createHash('sha256').update(Buffer.concat(chunks)).digest('hex');
    const dests: Destination[] = ['a', 'b'].map((n) => ({ name: n, storage: new LocalStorage(join(dir, n)), key: 'dump.sql' }));
    const r = await runPipeline((out) => produceChunks(out, chunks), dests, { gzip: false, signal: new AbortController().signal });
    expect(r.error).toBeUndefined();
    expect(r.sha256).toBe(expected);
    expect(r.bytes).toBe(64 * 64 * 1024);
    for (const n of ['a', 'b']) {
      expect(createHash('sha256').update(readFileSync(join(dir, n, 'dump.sql'))).digest('hex')).toBe(expected);
    }
  });

  it('compresses once; the hash is of the stored (gzip) bytes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-pipe-'));
    const text = Buffer.from('INSERT INTO t VALUES (1,"x");\n'.repeat(50_000));
    const r = await runPipeline((out) => produceChunks(out, [text]), [{ name: 'a', storage: new LocalStorage(dir), key: 'd.sql.gz' }], {
      gzip: true,
      signal: new AbortController().signal,
    });
    const stored = readFileSync(join(dir, 'd.sql.gz'));
    expect(createHash('sha256').update(stored).digest('hex')).toBe(r.sha256);
    expect(gunzipSync(stored).equals(text)).toBe(true);
    expect(stored.length).toBeLessThan(text.length / 10);
  });

  it('detaches a failing destination without stalling the others', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-pipe-'));
    const chunks = Array.from({ length: 40 }, () => randomBytes(256 * 1024));
    const dests: Destination[] = [
      { name: 'bad', storage: new FailingStorage(1 << 20), key: 'x' },
      { name: 'good', storage: new LocalStorage(dir), key: 'x.sql' },
    ];
    const r = await runPipeline((out) => produceChunks(out, chunks), dests, { gzip: false, signal: new AbortController().signal });
    expect(r.error).toBeUndefined();
    expect(r.outcomes.map((o) => o.ok)).toEqual([false, true]);
    expect((r.outcomes[0]!.error as Error).message).toBe('disk on fire');
    expect(readFileSync(join(dir, 'x.sql')).equals(Buffer.concat(chunks))).toBe(true);
  });

  it('applies backpressure: a slow destination paces the producer, memory stays bounded', async () => {
    const slow = new SlowStorage(2);
    const chunk = randomBytes(64 * 1024);
    let written = 0;
    let maxAhead = 0;
    const r = await runPipeline(
      async (out) => {
        for (let i = 0; i < 400; i++) {
          if (!out.write(chunk)) await new Promise((res) => out.once('drain', res));
          written += chunk.length;
          maxAhead = Math.max(maxAhead, written - slow.consumed);
        }
        return {};
      },
      [{ name: 'slow', storage: slow, key: 'k' }],
      { gzip: false, signal: new AbortController().signal },
    );
    expect(r.error).toBeUndefined();
    expect(slow.received.length).toBe(400 * chunk.length);
    // 25 MiB went through, but the producer was never more than a few 1 MiB stage buffers ahead of the consumer.
    expect(maxAhead).toBeLessThan(8 << 20);
    expect(maxAhead).toBeGreaterThan(0);
  });

  it('a source that fails leaves nothing under the final name at any destination', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-pipe-'));
    const r = await runPipeline(
      async (out) => {
        out.write(randomBytes(3 << 20));
        await new Promise((res) => setTimeout(res, 20));
        throw new Error('mysqldump exited with code 2');
      },
      [
        { name: 'a', storage: new LocalStorage(join(dir, 'a')), key: 'dump.sql' },
        { name: 'b', storage: new LocalStorage(join(dir, 'b')), key: 'dump.sql' },
      ],
      { gzip: true, signal: new AbortController().signal },
    );
    expect((r.error as Error).message).toBe('mysqldump exited with code 2');
    expect(r.outcomes.every((o) => !o.ok)).toBe(true);
    for (const n of ['a', 'b']) {
      expect(existsSync(join(dir, n, 'dump.sql'))).toBe(false);
      expect(existsSync(join(dir, n)) ? readdirSync(join(dir, n)) : []).toEqual([]);
    }
  });

  it('a source that fails at once (before a destination opened its file) leaves no .partial behind', async () => {
    for (let i = 0; i < 40; i++) {
      const dir = mkdtempSync(join(tmpdir(), 'onedump-pipe-'));
      const r = await runPipeline(
        async () => {
          // Fail at varying moments around the destinations' folder creation and file opening.
          for (let k = 0; k < i % 8; k++) await new Promise((res) => setImmediate(res));
          throw new Error('access denied');
        },
        [0, 1, 2].map((n) => ({ name: `d${n}`, storage: new LocalStorage(join(dir, String(n))), key: 'dump.sql' })),
        { gzip: false, signal: new AbortController().signal },
      );
      expect((r.error as Error).message).toBe('access denied');
      // Give a lazily opened file the chance to appear, as it did before the fix.
      await new Promise((res) => setTimeout(res, 20));
      for (const n of [0, 1, 2]) expect(existsSync(join(dir, String(n))) ? readdirSync(join(dir, String(n))) : []).toEqual([]);
    }
  });

  it('fails when every destination fails, and stops the source', async () => {
    let stoppedBySignal = false;
    const r = await runPipeline(
      async (out, signal) => {
        for (let i = 0; i < 10_000; i++) {
          if (signal.aborted) {
            stoppedBySignal = true;
            throw signal.reason;
          }
          if (!out.write(Buffer.alloc(64 * 1024))) {
            await new Promise((res) => {
              out.once('drain', res);
              signal.addEventListener('abort', res, { once: true });
            });
          }
        }
        return {};
      },
      [{ name: 'bad', storage: new FailingStorage(1 << 20), key: 'x' }],
      { gzip: false, signal: new AbortController().signal },
    );
    expect(r.error).toBeDefined();
    expect(stoppedBySignal || r.bytes < 10_000 * 64 * 1024).toBe(true);
    expect(r.outcomes[0]!.ok).toBe(false);
  });
});

describe('pipeline with age encryption', () => {
  let identity = '';
  let recipient = '';
  beforeAll(async () => {
    identity = await generateX25519Identity();
    recipient = await identityToRecipient(identity);
  });

  it('encrypts after compression; the hash and size are of the stored (encrypted) bytes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-pipe-'));
    const text = Buffer.from('INSERT INTO t VALUES (1,"x");\n'.repeat(200_000));
    const r = await runPipeline((out) => produceChunks(out, [text]), [{ name: 'a', storage: new LocalStorage(dir), key: 'd.sql.gz.age' }], {
      gzip: true,
      encrypt: [recipient],
      signal: new AbortController().signal,
    });
    expect(r.error).toBeUndefined();
    const stored = readFileSync(join(dir, 'd.sql.gz.age'));
    expect(createHash('sha256').update(stored).digest('hex')).toBe(r.sha256);
    expect(stored.length).toBe(r.bytes);
    const gz = await readAll(Readable.from([stored]).pipe(decryptStream(identity)));
    expect(gunzipSync(gz).equals(text)).toBe(true);
  });

  it('a slow destination still paces the producer through the age stage', async () => {
    const slow = new SlowStorage(2);
    const chunk = randomBytes(64 * 1024);
    let written = 0;
    let maxAhead = 0;
    const r = await runPipeline(
      async (out) => {
        for (let i = 0; i < 400; i++) {
          if (!out.write(chunk)) await new Promise((res) => out.once('drain', res));
          written += chunk.length;
          maxAhead = Math.max(maxAhead, written - slow.consumed);
        }
        return {};
      },
      [{ name: 'slow', storage: slow, key: 'k' }],
      { gzip: false, encrypt: [recipient], signal: new AbortController().signal },
    );
    expect(r.error).toBeUndefined();
    // 16 bytes of tag per 64 KiB chunk plus the header.
    expect(slow.received.length).toBeGreaterThan(400 * chunk.length);
    expect(maxAhead).toBeLessThan(8 << 20);
  });

  it('a source that fails mid-way leaves nothing under the final name, and the error is the source\'s', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'onedump-pipe-'));
    const r = await runPipeline(
      async (out) => {
        out.write(randomBytes(3 << 20));
        await new Promise((res) => setTimeout(res, 50));
        throw new Error('mysqldump exited with code 2');
      },
      [{ name: 'a', storage: new LocalStorage(join(dir, 'a')), key: 'dump.sql.gz.age' }],
      { gzip: true, encrypt: [recipient], signal: new AbortController().signal },
    );
    expect((r.error as Error).message).toBe('mysqldump exited with code 2');
    expect(r.outcomes.every((o) => !o.ok)).toBe(true);
    expect(existsSync(join(dir, 'a')) ? readdirSync(join(dir, 'a')) : []).toEqual([]);
  });

  it('when every destination fails, the age stage does not hold the source up', async () => {
    let stoppedBySignal = false;
    const r = await runPipeline(
      async (out, signal) => {
        for (let i = 0; i < 10_000; i++) {
          if (signal.aborted) {
            stoppedBySignal = true;
            throw signal.reason;
          }
          if (!out.write(Buffer.alloc(64 * 1024))) {
            await new Promise((res) => {
              out.once('drain', res);
              signal.addEventListener('abort', res, { once: true });
            });
          }
        }
        return {};
      },
      [{ name: 'bad', storage: new FailingStorage(1 << 20), key: 'x' }],
      { gzip: false, encrypt: [recipient], signal: new AbortController().signal },
    );
    expect(r.error).toBeDefined();
    expect(stoppedBySignal).toBe(true);
    expect(r.outcomes[0]!.ok).toBe(false);
  });
});
