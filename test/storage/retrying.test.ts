import { describe, it, expect } from 'vitest';
import { PassThrough, Readable } from 'node:stream';
import { RetryingStorage, withRetries } from '../../src/storage/retrying.js';
import type { ObjectInfo, PutOptions, Storage, StoredObject } from '../../src/storage/types.js';
import { PermanentError, TransientError } from '../../src/util/errors.js';
import { readAll } from '../../testutils/streams.js';

const fast = { attempts: 5, initialMs: 1, maxMs: 5 };

/** An in-memory storage whose operations fail on cue. */
class FlakyStorage implements Storage {
  readonly kind = 'flaky';
  objects = new Map<string, Buffer>();
  calls: Record<string, number> = { put: 0, get: 0, list: 0, stat: 0, delete: 0 };
  /** Errors thrown by the next calls of an operation, in order. */
  faults: Record<string, unknown[]> = { put: [], get: [], list: [], stat: [], delete: [] };
  /** get(): streams that fail after this many bytes (consumed in order). */
  getCuts: number[] = [];
  /** put(): fail after reading this many bytes (consumed in order). */
  putCuts: number[] = [];
  /** list(): fail after yielding this many entries (consumed in order). */
  listCuts: number[] = [];

  describe(key?: string) {
    return `flaky://${key ?? ''}`;
  }
  private fault(op: string) {
    this.calls[op] = (this.calls[op] ?? 0) + 1;
    const f = this.faults[op]?.shift();
    if (f) throw f;
  }
  async put(key: string, body: Readable, _opts?: PutOptions): Promise<StoredObject> {
    this.fault('put');
    const cut = this.putCuts.shift();
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of body) {
      chunks.push(c as Buffer);
      n += (c as Buffer).length;
      if (cut !== undefined && n >= cut) throw new TransientError('connection reset by peer');
    }
    const buf = Buffer.concat(chunks);
    this.objects.set(key, buf);
    return { key, size: buf.length, location: this.describe(key) };
  }
  async get(key: string, opts: { start?: number } = {}): Promise<Readable> {
    this.fault('get');
    const buf = this.objects.get(key);
    if (!buf) throw new PermanentError(`${key} does not exist`);
    const data = buf.subarray(opts.start ?? 0);
    const cut = this.getCuts.shift();
    if (cut === undefined) return Readable.from([data.subarray(0, 3), data.subarray(3)]);
    return Readable.from(
      (async function* () {
        yield data.subarray(0, cut);
        throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
      })(),
    );
  }
  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    this.fault('list');
    const cut = this.listCuts.shift();
    let i = 0;
    for (const [key, buf] of [...this.objects].sort()) {
      if (!key.startsWith(prefix)) continue;
      if (cut !== undefined && i++ >= cut) throw new TransientError('connection reset');
      yield { key, size: buf.length };
    }
  }
  async stat(key: string): Promise<ObjectInfo | undefined> {
    this.fault('stat');
    const b = this.objects.get(key);
    return b ? { key, size: b.length } : undefined;
  }
  async delete(key: string): Promise<void> {
    this.fault('delete');
    this.objects.delete(key);
  }
}

const reset = () => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });

describe('RetryingStorage', () => {
  it('retries stat and delete through transient faults and fails permanent ones at once', async () => {
    const inner = new FlakyStorage();
    inner.objects.set('a', Buffer.from('x'));
    const s = new RetryingStorage(inner, { policy: fast });
    inner.faults.stat = [reset(), reset()];
    expect(await s.stat('a')).toEqual({ key: 'a', size: 1 });
    expect(inner.calls.stat).toBe(3);
    inner.faults.delete = [new PermanentError('access denied')];
    await expect(s.delete('a')).rejects.toThrow('access denied');
    expect(inner.calls.delete).toBe(1);
    inner.faults.stat = Array.from({ length: 10 }, reset);
    await expect(s.stat('a')).rejects.toThrow('ECONNRESET');
    expect(inner.calls.stat).toBe(3 + 5);
  });

  it('retries a put whole while none of the body was read', async () => {
    const inner = new FlakyStorage();
    const s = new RetryingStorage(inner, { policy: fast });
    inner.faults.put = [reset(), Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })];
    const stored = await s.put('k', Readable.from([Buffer.from('abc'), Buffer.from('def')]));
    expect(stored.size).toBe(6);
    expect(inner.objects.get('k')?.toString()).toBe('abcdef');
    expect(inner.calls.put).toBe(3);
  });

  it('does not retry a put once bytes of the body were consumed (the backend resumes, or the job fails)', async () => {
    const inner = new FlakyStorage();
    const s = new RetryingStorage(inner, { policy: fast });
    inner.putCuts = [4];
    const body = new PassThrough();
    body.write('abc');
    body.end('defgh');
    await expect(s.put('k', body)).rejects.toThrow('connection reset');
    expect(inner.calls.put).toBe(1);
    expect(inner.objects.has('k')).toBe(false);
    expect(body.destroyed).toBe(true);
  });

  it('does not retry a put whose body itself failed', async () => {
    const inner = new FlakyStorage();
    const s = new RetryingStorage(inner, { policy: fast });
    const body = new PassThrough();
    const putting = s.put('k', body);
    body.destroy(Object.assign(new Error('dump died: ECONNRESET'), { code: 'ECONNRESET' }));
    await expect(putting).rejects.toThrow('dump died');
    expect(inner.calls.put).toBe(1);
  });

  it('resumes a download that drops mid-stream at the byte it reached', async () => {
    const inner = new FlakyStorage();
    inner.objects.set('f', Buffer.from('0123456789abcdef'));
    const s = new RetryingStorage(inner, { policy: fast });
    inner.getCuts = [5, 4];
    inner.faults.get = [reset()];
    const got = await readAll(await s.get('f'));
    expect(got.toString()).toBe('0123456789abcdef');
    expect(inner.calls.get).toBe(4); // one refused open, two cut streams, one whole
  });

  it('fails a download of a missing key at once', async () => {
    const inner = new FlakyStorage();
    const s = new RetryingStorage(inner, { policy: fast });
    await expect(s.get('nope')).rejects.toThrow('does not exist');
    expect(inner.calls.get).toBe(1);
  });

  it('restarts a listing that drops and yields each key once', async () => {
    const inner = new FlakyStorage();
    for (const k of ['p/1', 'p/2', 'p/3', 'p/4', 'q/1']) inner.objects.set(k, Buffer.from(k));
    const s = new RetryingStorage(inner, { policy: fast });
    inner.listCuts = [2, 3];
    const keys: string[] = [];
    for await (const o of s.list('p/')) keys.push(o.key);
    expect(keys).toEqual(['p/1', 'p/2', 'p/3', 'p/4']);
    expect(inner.calls.list).toBe(3);
  });

  it('takes the backend\'s own policy (e.g. sftp maxattempts) and wraps only once', async () => {
    const inner = new FlakyStorage();
    Object.assign(inner, { retryPolicy: { attempts: 2, initialMs: 1, maxMs: 1 } });
    const s = withRetries(inner);
    expect(withRetries(s)).toBe(s);
    inner.faults.stat = [reset(), reset(), reset()];
    await expect(s.stat('a')).rejects.toThrow();
    expect(inner.calls.stat).toBe(2);
  });
});
