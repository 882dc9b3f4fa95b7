import { Transform, type TransformCallback } from 'node:stream';
import { gzip as gzipCb, constants } from 'node:zlib';
import { promisify } from 'node:util';
import { availableParallelism } from 'node:os';

const gzipAsync = promisify(gzipCb);

export interface ParallelGzipOptions {
  level?: number;
  /** Bytes per independently compressed block (a gzip member). */
  blockSize?: number;
  /** Blocks compressed at once (zlib runs them on libuv's thread pool). */
  concurrency?: number;
}

/**
 * pigz-style compression: the input is cut into blocks that are compressed in parallel as independent gzip members
 * and emitted in order. Concatenated members are one valid .gz file (RFC 1952) that gunzip, zcat and Node read whole.
 * Memory is bounded by blockSize × (concurrency + 1).
 */
export class ParallelGzip extends Transform {
  private readonly level: number;
  private readonly blockSize: number;
  private readonly concurrency: number;
  private pending: Buffer[] = [];
  private pendingLen = 0;
  /** Compressions in flight, in input order. */
  private readonly inflight: Promise<Buffer>[] = [];
  private emitted = false;

  constructor(opts: ParallelGzipOptions = {}) {
    super({ highWaterMark: 1 << 20 });
    this.level = opts.level ?? 6;
    this.blockSize = opts.blockSize ?? 1 << 20;
    // libuv's pool has 4 threads by default; file and DNS work share it.
    this.concurrency = opts.concurrency ?? Math.max(1, Math.min(4, availableParallelism()));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.pending.push(chunk);
    this.pendingLen += chunk.length;
    this.drainBlocks(false).then(() => cb(), cb);
  }

  override _flush(cb: TransformCallback): void {
    this.drainBlocks(true)
      .then(async () => {
        // An empty dump is still a valid (empty) .gz file.
        if (!this.emitted) this.push(await gzipAsync(Buffer.alloc(0), { level: this.level }));
      })
      .then(() => cb(), cb);
  }

  private async drainBlocks(final: boolean): Promise<void> {
    while (this.pendingLen >= this.blockSize || (final && this.pendingLen > 0)) {
      const all = this.pending.length === 1 ? (this.pending[0] as Buffer) : Buffer.concat(this.pending, this.pendingLen);
      const take = Math.min(this.blockSize, all.length);
      const block = all.subarray(0, take);
      const rest = all.subarray(take);
      this.pending = rest.length ? [rest] : [];
      this.pendingLen = rest.length;
      this.inflight.push(gzipAsync(block, { level: this.level, strategy: constants.Z_DEFAULT_STRATEGY }));
      // Keep at most `concurrency` blocks compressing; emit the oldest when the window is full.
      while (this.inflight.length >= this.concurrency) this.emit1(await (this.inflight.shift() as Promise<Buffer>));
    }
    if (final) while (this.inflight.length) this.emit1(await (this.inflight.shift() as Promise<Buffer>));
  }

  private emit1(member: Buffer): void {
    this.emitted = true;
    this.push(member);
  }
}
