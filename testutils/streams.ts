import { PassThrough, Readable } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';

/**
 * A stream of `size` random bytes in uneven chunks (so nothing lines up with part or packet sizes), of unknown
 * length to the consumer. `sha256` resolves when the stream has produced everything.
 */
export function randomStream(size: number, opts: { maxChunk?: number } = {}): { stream: Readable; sha256: Promise<string>; produced: () => number } {
  const maxChunk = opts.maxChunk ?? 256 * 1024;
  const hash = createHash('sha256');
  let produced = 0;
  let resolveHash!: (h: string) => void;
  const sha256 = new Promise<string>((r) => (resolveHash = r));
  const pool = randomBytes(4 * 1024 * 1024 + maxChunk);
  const stream = new Readable({
    highWaterMark: 1 << 20,
    read() {
      if (produced >= size) {
        this.push(null);
        resolveHash(hash.digest('hex'));
        return;
      }
      const n = Math.min(size - produced, 1 + Math.floor(Math.random() * maxChunk));
      // Fresh random content per chunk without paying for randomBytes on every byte: a random window of the pool,
      // with the chunk's offset stamped in so no two chunks are equal.
      const off = Math.floor(Math.random() * (pool.length - n));
      const chunk = Buffer.from(pool.subarray(off, off + n));
      if (n >= 8) chunk.writeDoubleLE(produced, 0);
      hash.update(chunk);
      produced += n;
      this.push(chunk);
    },
  });
  return { stream, sha256, produced: () => produced };
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks);
}

export async function sha256Of(stream: Readable): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const c of stream) {
    h.update(c as Buffer);
    size += (c as Buffer).length;
  }
  return { sha256: h.digest('hex'), size };
}

export function sha256(buf: Buffer | string): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** A stream that produces `size` random bytes and then stays open without ending: an upload that is surely mid-way. */
export function unendingStream(size: number): Readable {
  const { stream } = randomStream(size);
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  stream.pipe(out, { end: false });
  return out;
}

/**
 * `size` random bytes in 1 MiB chunks that, after every `every` bytes, waits (up to 10 s) until `count()` has grown,
 * so that whatever it counts (a storage's background flushes, say) is seen to happen while the stream is still being
 * read. `waitsMet()`: how many of those waits ended with the count grown; `sha256()` once the stream has ended.
 */
export function pacedRandomStream(size: number, every: number, count: () => number): { stream: Readable; sha256: () => string; waitsMet: () => number } {
  const MiB = 1024 * 1024;
  const hash = createHash('sha256');
  let met = 0;
  const stream = Readable.from(
    (async function* () {
      for (let sent = 0; sent < size; sent += MiB) {
        const chunk = randomBytes(MiB);
        hash.update(chunk);
        // Counted before the chunk goes: a flush the storage started earlier may end while the chunk is on its way,
        // and the storage, busy with that one, starts no new one for this chunk (flush-behind runs one at a time);
        // counted after the yield, that flush was missed and the wait saw nothing more (a CI run waited 10 s in vain).
        const boundary = (sent + MiB) % every === 0;
        const before = boundary ? count() : 0;
        yield chunk;
        if (boundary) {
          for (let i = 0; i < 200 && count() === before; i++) await new Promise((r) => setTimeout(r, 50));
          if (count() > before) met++;
        }
      }
    })(),
  );
  return { stream, sha256: () => hash.digest('hex'), waitsMet: () => met };
}
