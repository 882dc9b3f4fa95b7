import { Readable } from 'node:stream';
import { pushedChunks } from '../util/streams.js';

/**
 * Copies a stream into one reused buffer and hands it on each time it is full: what the chunked upload sessions of
 * Dropbox and Google Drive need, so only one chunk of the stream is ever held. `onData` sees every byte once (for
 * hashes); `onFull` must be done with the buffer before it resolves. Returns the total length and how many bytes
 * are left in the buffer (the last, partial chunk).
 */
export async function readInChunks(
  body: AsyncIterable<unknown>,
  buf: Buffer,
  onData: (bytes: Buffer) => void,
  onFull: () => Promise<void>,
): Promise<{ total: number; fill: number }> {
  let fill = 0;
  let total = 0;
  for await (const chunk of body instanceof Readable ? pushedChunks(body) : body) {
    let p: Buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    onData(p);
    total += p.length;
    while (p.length) {
      const n = Math.min(p.length, buf.length - fill);
      p.copy(buf, fill, 0, n);
      fill += n;
      p = p.subarray(n);
      if (fill === buf.length) {
        await onFull();
        fill = 0;
      }
    }
  }
  return { total, fill };
}
