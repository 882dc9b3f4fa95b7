import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { PassThrough, Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Storage } from '../../src/storage/types.js';
import { randomStream, readAll, sha256Of, sha256 } from '../../testutils/streams.js';

export interface ConformanceOptions {
  /**
   * Builds a storage rooted in a fresh, empty place (a new folder, bucket prefix, remote dir). `listPageSize` asks the
   * backend to page its listings that small, where it pages at all, so pagination is exercised.
   */
  make(opts: { listPageSize: number }): Promise<Storage>;
  /** Removes what make() created; called once after the suite. */
  cleanup?(): Promise<void>;
  /** Size of the unknown-length stream round trip (default 12 MiB: several S3 parts at the minimum part size). */
  bigSize?: number;
  timeoutMs?: number;
}

async function keys(s: Storage, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of s.list(prefix)) out.push(o.key);
  return out.sort();
}

async function text(s: Storage, key: string, start?: number): Promise<string> {
  return (await readAll(await s.get(key, start === undefined ? {} : { start }))).toString('utf8');
}

/** A body we control: write some, then end, fail or abort it while put() is in flight. */
function controlled(): PassThrough {
  return new PassThrough();
}

/**
 * The Storage conformance suite (rclone's fstests idea): every backend's test file calls this once. It checks the
 * contract of src/storage/types.ts — round trips including empty and multi-MB unknown-length streams, ranged gets,
 * listing with prefixes and pagination, stat, delete, overwrite, and that no object is ever visible under its final
 * key while an upload is in flight, after it failed, or after it was aborted (an earlier object stays intact).
 */
export function storageConformance(name: string, o: ConformanceOptions): void {
  const timeout = o.timeoutMs ?? 60_000;
  describe(`${name} storage conformance`, () => {
    let s: Storage;
    beforeAll(async () => {
      s = await o.make({ listPageSize: 3 });
    }, 120_000);
    afterAll(async () => {
      await s?.close?.();
      await o.cleanup?.();
    });

    it('round-trips a small object and reports its size', { timeout }, async () => {
      const stored = await s.put('rt/hello.txt', Readable.from([Buffer.from('hello '), Buffer.from('world')]));
      expect(stored.key).toBe('rt/hello.txt');
      expect(stored.size).toBe(11);
      expect(stored.location).toContain('hello.txt');
      expect(await text(s, 'rt/hello.txt')).toBe('hello world');
      const st = await s.stat('rt/hello.txt');
      expect(st?.size).toBe(11);
      expect(st?.key).toBe('rt/hello.txt');
    });

    it('round-trips a 0-byte object', { timeout }, async () => {
      const stored = await s.put('rt/empty.bin', Readable.from([]));
      expect(stored.size).toBe(0);
      expect((await s.stat('rt/empty.bin'))?.size).toBe(0);
      expect((await readAll(await s.get('rt/empty.bin'))).length).toBe(0);
    });

    it('round-trips a multi-MB stream of unknown length byte-identical', { timeout: Math.max(timeout, 120_000) }, async () => {
      const size = o.bigSize ?? 12 * 1024 * 1024 + 12345;
      const src = randomStream(size);
      const progress: number[] = [];
      const stored = await s.put('rt/big.bin', src.stream, { onProgress: (n) => progress.push(n) });
      const want = await src.sha256;
      expect(stored.size).toBe(size);
      expect((await s.stat('rt/big.bin'))?.size).toBe(size);
      const got = await sha256Of(await s.get('rt/big.bin'));
      expect(got).toEqual({ sha256: want, size });
      expect(progress.length).toBeGreaterThan(0);
      expect(progress[progress.length - 1]).toBe(size);
    });

    it('gets from a start offset', { timeout }, async () => {
      await s.put('rt/range.txt', Readable.from([Buffer.from('0123456789')]));
      expect(await text(s, 'rt/range.txt', 4)).toBe('456789');
      expect(await text(s, 'rt/range.txt', 0)).toBe('0123456789');
    });

    it('verifies against an expected sha256 and size', { timeout }, async () => {
      const body = Buffer.from('checked content');
      await s.put('rt/checked.txt', Readable.from([body]), { sha256: sha256(body), size: body.length });
      expect(await text(s, 'rt/checked.txt')).toBe('checked content');
      await s.put('rt/mismatch.txt', Readable.from([Buffer.from('good')]));
      await expect(s.put('rt/mismatch.txt', Readable.from([body]), { sha256: sha256('something else') })).rejects.toThrow(/sha256|checksum|match/i);
      expect(await text(s, 'rt/mismatch.txt')).toBe('good');
    });

    it('lists by prefix, across pages, without folders or partial uploads', { timeout }, async () => {
      const names = ['ls/a/1', 'ls/a/2', 'ls/a/sub/3', 'ls/ab', 'ls/b/1', 'ls/b/2', 'ls/b/3', 'ls/b/4', 'ls/b/5', 'ls/b/6', 'ls/b/7'];
      for (const k of names) await s.put(k, Readable.from([Buffer.from(k)]));
      expect(await keys(s, 'ls/a/')).toEqual(['ls/a/1', 'ls/a/2', 'ls/a/sub/3']);
      expect(await keys(s, 'ls/a')).toEqual(['ls/a/1', 'ls/a/2', 'ls/a/sub/3', 'ls/ab']);
      expect(await keys(s, 'ls/b/')).toEqual(['ls/b/1', 'ls/b/2', 'ls/b/3', 'ls/b/4', 'ls/b/5', 'ls/b/6', 'ls/b/7']);
      expect(await keys(s, 'ls/')).toEqual([...names].sort());
      expect(await keys(s, 'ls/none/')).toEqual([]);
      for await (const obj of s.list('ls/b/')) {
        expect(obj.size).toBe(obj.key.length);
      }
    });

    it('stat, get and delete of a missing key', { timeout }, async () => {
      expect(await s.stat('missing/none.txt')).toBeUndefined();
      await expect(s.get('missing/none.txt')).rejects.toThrow();
      await s.delete('missing/none.txt');
    });

    it('deletes', { timeout }, async () => {
      await s.put('del/x.txt', Readable.from([Buffer.from('x')]));
      await s.put('del/y.txt', Readable.from([Buffer.from('y')]));
      await s.delete('del/x.txt');
      expect(await s.stat('del/x.txt')).toBeUndefined();
      expect(await keys(s, 'del/')).toEqual(['del/y.txt']);
    });

    it('overwrites an existing object', { timeout }, async () => {
      await s.put('ow/f.txt', Readable.from([Buffer.from('first version, longer')]));
      await s.put('ow/f.txt', Readable.from([Buffer.from('second')]));
      expect(await text(s, 'ow/f.txt')).toBe('second');
      expect((await s.stat('ow/f.txt'))?.size).toBe(6);
      expect(await keys(s, 'ow/')).toEqual(['ow/f.txt']);
    });

    it('shows nothing under the final key while a put is in flight', { timeout }, async () => {
      const body = controlled();
      let acked = 0;
      const putting = s.put('fl/new.bin', body, { onProgress: (n) => (acked = n) });
      body.write(Buffer.alloc(256 * 1024, 1));
      for (let i = 0; i < 50 && acked === 0; i++) await sleep(20);
      await sleep(100);
      expect(await s.stat('fl/new.bin')).toBeUndefined();
      expect(await keys(s, 'fl/')).toEqual([]);
      body.end(Buffer.alloc(1000, 2));
      const stored = await putting;
      expect(stored.size).toBe(256 * 1024 + 1000);
      expect(await keys(s, 'fl/')).toEqual(['fl/new.bin']);
    });

    it('a put whose body fails leaves nothing new and keeps the earlier object', { timeout }, async () => {
      await s.put('fail/app.sql', Readable.from([Buffer.from('good backup')]));
      const body = controlled();
      const putting = s.put('fail/app.sql', body);
      body.write(Buffer.alloc(300 * 1024, 7));
      await sleep(100);
      body.destroy(new Error('the dump failed'));
      await expect(putting).rejects.toThrow();
      expect(await text(s, 'fail/app.sql')).toBe('good backup');
      const body2 = controlled();
      const putting2 = s.put('fail/new.sql', body2);
      body2.write(Buffer.alloc(1000, 7));
      await sleep(50);
      body2.destroy(new Error('the dump failed'));
      await expect(putting2).rejects.toThrow();
      expect(await s.stat('fail/new.sql')).toBeUndefined();
      expect(await keys(s, 'fail/')).toEqual(['fail/app.sql']);
    });

    it('an aborted put leaves nothing new and keeps the earlier object', { timeout }, async () => {
      await s.put('abort/app.sql', Readable.from([Buffer.from('good backup')]));
      const ac = new AbortController();
      const body = controlled();
      const putting = s.put('abort/app.sql', body, { signal: ac.signal });
      body.write(Buffer.alloc(300 * 1024, 9));
      await sleep(100);
      ac.abort(new Error('the job was cancelled'));
      await expect(putting).rejects.toThrow();
      expect(await text(s, 'abort/app.sql')).toBe('good backup');
      expect(await keys(s, 'abort/')).toEqual(['abort/app.sql']);
    });

    it('describes locations without credentials', () => {
      const d = s.describe('x/y.sql');
      expect(d).toContain('y.sql');
      expect(d).not.toMatch(/S3RVER|secret|password|BEGIN [A-Z ]*PRIVATE KEY/i);
    });
  });
}
