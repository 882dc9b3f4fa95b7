import { describe, expect, it } from 'vitest';
import { PassThrough, Readable } from 'node:stream';
import { pushedChunks } from '../../src/util/streams.js';

describe('pushedChunks', () => {
  it('yields the chunks as pushed, never a concatenation of what is buffered, with backpressure', async () => {
    const src = new PassThrough({ highWaterMark: 1 << 20 });
    const sent = Array.from({ length: 50 }, (_, i) => Buffer.alloc(1000 + i, i));
    for (const c of sent) src.write(c); // all buffered before the consumer starts
    src.end();
    const got: Buffer[] = [];
    for await (const c of pushedChunks(src)) {
      got.push(c);
      await new Promise((r) => setImmediate(r)); // a slow consumer
    }
    expect(got.map((c) => c.length)).toEqual(sent.map((c) => c.length));
    expect(Buffer.concat(got).equals(Buffer.concat(sent))).toBe(true);
    // `for await` over the stream itself hands out one concatenation: what this avoids.
    const again = new PassThrough({ highWaterMark: 1 << 20 });
    for (const c of sent) again.write(c);
    again.end();
    const plain: Buffer[] = [];
    for await (const c of again) plain.push(c as Buffer);
    expect(plain.length).toBeLessThan(sent.length);
  });

  it('ends with the stream: its error, a premature close as an error, and destroys it when the consumer stops', async () => {
    const failing = new Readable({ read() {} });
    failing.push(Buffer.from('a'));
    setImmediate(() => failing.destroy(new Error('disk on fire')));
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const c of pushedChunks(failing)) seen.push(c.toString());
      })(),
    ).rejects.toThrow('disk on fire');
    expect(seen).toEqual(['a']);

    const cut = new Readable({ read() {} });
    setImmediate(() => cut.destroy());
    await expect(
      (async () => {
        for await (const _ of pushedChunks(cut)) void _;
      })(),
    ).rejects.toThrow(/premature close/i);

    const endless = new Readable({ read() { this.push('x'); } });
    for await (const c of pushedChunks(endless)) {
      expect(c).toEqual(Buffer.from('x'));
      break;
    }
    expect(endless.destroyed).toBe(true);
  });
});
