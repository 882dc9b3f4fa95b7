import { describe, it, expect } from 'vitest';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Fanout } from '../../src/jobs/fanout.js';

describe('Fanout', () => {
  it('a slow consumer still gets every byte after the source finished cleanly', async () => {
    const fan = new Fanout(['fast', 'slow'], 1024);
    const data = Buffer.alloc(64 * 1024, 7);
    const consume = async (i: number, delayMs: number) => {
      let n = 0;
      for await (const c of fan.branches[i]!.stream) {
        n += (c as Buffer).length;
        if (delayMs) await sleep(delayMs);
      }
      return n;
    };
    const fast = consume(0, 0);
    const slow = consume(1, 5);
    await pipeline(Readable.from([data.subarray(0, 32 * 1024), data.subarray(32 * 1024)]), fan);
    // The source is done and the fan-out finished; the consumers are still reading.
    expect(await fast).toBe(data.length);
    expect(await slow).toBe(data.length);
  });

  it('a consumer that starts reading only after the source finished gets every byte', async () => {
    const fan = new Fanout(['late'], 1 << 20);
    const data = Buffer.alloc(100_000, 1);
    await pipeline(Readable.from([data]), fan);
    let n = 0;
    for await (const c of fan.branches[0]!.stream) n += (c as Buffer).length;
    expect(n).toBe(data.length);
  });
});
