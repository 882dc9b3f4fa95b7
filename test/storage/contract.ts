import { describe, it, expect } from 'vitest';
import { Readable } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import type { Storage } from '../../src/storage/types.js';

/**
 * The Storage contract every backend keeps (a stand-in until the shared conformance suite lands): round trips of
 * empty, small and multi-chunk bodies, replacement, prefix listing over several pages, ranged reads, deletes, and a
 * failed or aborted put leaving nothing behind.
 */
export async function readAll(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of r) parts.push(Buffer.isBuffer(p) ? p : Buffer.from(p as string));
  return Buffer.concat(parts);
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** A stream yielding `data` in uneven pieces. */
export function piecewise(data: Buffer, piece = 100_003): Readable {
  let i = 0;
  return new Readable({
    read() {
      if (i >= data.length) return this.push(null);
      this.push(data.subarray(i, i + piece));
      i += piece;
    },
  });
}

/** A stream that yields `good` bytes, then fails. */
export function failingAfter(good: number, message = 'the dump failed'): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= good) return this.destroy(new Error(message));
      const n = Math.min(65536, good - sent);
      sent += n;
      this.push(randomBytes(n));
    },
  });
}

async function keys(s: Storage, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of s.list(prefix)) out.push(o.key);
  return out;
}

export function storageContract(name: string, make: () => Storage, opts: { chunk: number }): void {
  describe(`${name}: Storage contract`, () => {
    it('round-trips empty, small and multi-chunk bodies byte for byte', async () => {
      const s = make();
      for (const [key, size] of [
        ['c-empty.bin', 0],
        ['c-small.bin', 10],
        ['c-exact.bin', opts.chunk * 2],
        ['c-multi.bin', Math.floor(opts.chunk * 3.5) + 7],
      ] as const) {
        const data = randomBytes(size);
        const stored = await s.put(key, piecewise(data), {});
        expect(stored.size).toBe(size);
        expect(stored.key).toBe(key);
        expect(sha256(await readAll(await s.get(key)))).toBe(sha256(data));
        const st = await s.stat(key);
        expect(st?.size).toBe(size);
      }
    });

    it('replaces an existing object and lists it once', async () => {
      const s = make();
      await s.put('c-replace.bin', piecewise(Buffer.from('old contents')));
      const fresh = randomBytes(opts.chunk + 5);
      await s.put('c-replace.bin', piecewise(fresh));
      expect(sha256(await readAll(await s.get('c-replace.bin')))).toBe(sha256(fresh));
      expect(await keys(s, 'c-replace')).toEqual(['c-replace.bin']);
    });

    it('lists by prefix across pages, sorted, and deletes', async () => {
      const s = make();
      const names = Array.from({ length: 7 }, (_, i) => `c-list-${i}.txt`);
      for (const n of names) await s.put(n, piecewise(Buffer.from(n)));
      await s.put('c-other.txt', piecewise(Buffer.from('x')));
      expect(await keys(s, 'c-list-')).toEqual(names);
      await s.delete('c-list-3.txt');
      await s.delete('c-list-3.txt'); // deleting a missing object is not an error
      expect(await keys(s, 'c-list-')).toEqual(names.filter((n) => n !== 'c-list-3.txt'));
      expect(await s.stat('c-list-3.txt')).toBeUndefined();
      expect(await keys(s, 'c-other')).toEqual(['c-other.txt']);
    });

    it('reads from an offset', async () => {
      const s = make();
      const data = randomBytes(opts.chunk + 1000);
      await s.put('c-range.bin', piecewise(data));
      const tail = await readAll(await s.get('c-range.bin', { start: 777 }));
      expect(tail.equals(data.subarray(777))).toBe(true);
    });

    it('a missing object: stat is undefined and get fails', async () => {
      const s = make();
      expect(await s.stat('c-missing.bin')).toBeUndefined();
      await expect(s.get('c-missing.bin')).rejects.toThrow(/does not exist|not found/i);
    });

    it('a put whose source fails leaves nothing, not even a partial object', async () => {
      const s = make();
      await expect(s.put('c-failed.bin', failingAfter(opts.chunk * 2 + 123))).rejects.toThrow(/the dump failed/);
      expect(await s.stat('c-failed.bin')).toBeUndefined();
      expect(await keys(s, 'c-failed')).toEqual([]);
    });

    it('an aborted put leaves nothing and keeps an older object', async () => {
      const s = make();
      const old = Buffer.from('the good old backup');
      await s.put('c-abort.bin', piecewise(old));
      const ac = new AbortController();
      const body = new Readable({ read() {} });
      body.push(randomBytes(opts.chunk * 2));
      const p = s.put('c-abort.bin', body, { signal: ac.signal });
      setTimeout(() => ac.abort(new Error('aborted by the test')), 200);
      await expect(p).rejects.toThrow();
      body.destroy();
      expect(sha256(await readAll(await s.get('c-abort.bin')))).toBe(sha256(old));
      expect(await keys(s, 'c-abort')).toEqual(['c-abort.bin']);
    });
  });
}
