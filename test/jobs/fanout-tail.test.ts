import { describe, it, expect } from 'vitest';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable, Writable } from 'node:stream';
import { runPipeline } from '../../src/jobs/pipeline.js';
import type { Storage } from '../../src/storage/types.js';

/** A storage that reads slowly, so the tail of the stream is still buffered in its branch when the dump ends. */
function slowStorage(received: { bytes: number }): Storage {
  return {
    kind: 'slow',
    describe: (k) => `slow://${k ?? ''}`,
    async put(key: string, body: Readable) {
      for await (const c of body) {
        received.bytes += (c as Buffer).length;
        await sleep(2);
      }
      return { key, size: received.bytes, location: `slow://${key}` };
    },
    get: async () => {
      throw new Error('unused');
    },
    async *list() {},
    stat: async () => undefined,
    delete: async () => undefined,
  };
}

describe('fan-out', () => {
  it('lets a slow destination read the buffered tail after the dump finished', async () => {
    const received = { bytes: 0 };
    const size = 8 * 1024 * 1024;
    const produce = async (out: Writable) => {
      for (let sent = 0; sent < size; sent += 64 * 1024) if (!out.write(Buffer.alloc(64 * 1024, 1))) await once(out, 'drain');
      return { bytes: size } as never;
    };
    const r = await runPipeline(produce, [{ name: 'slow[0]', storage: slowStorage(received), key: 'x' }], { gzip: false, signal: new AbortController().signal });
    expect(r.outcomes[0]?.error).toBeUndefined();
    expect(r.outcomes[0]?.ok).toBe(true);
    expect(received.bytes).toBe(size);
  });
});
