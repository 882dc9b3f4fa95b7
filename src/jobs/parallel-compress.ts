import { Transform, type TransformCallback } from 'node:stream';
import zlib, { constants } from 'node:zlib';
import { availableParallelism } from 'node:os';

/**
 * zlib's output slice. A block's compression goes back to the JavaScript thread for every slice it fills: with the
 * default 16 KiB a 1 MiB block made ~10 round trips through a thread that is busy dumping, and the pool waited on it
 * (a 134 MB dump: 2.0 s against 1.1 s with 256 KiB, in a test that keeps the thread busy as a dump does).
 */
const OUT_SLICE = 256 * 1024;

/**
 * Compresses one block into one self-contained unit (a gzip member, a zstd frame), as one Buffer or its pieces in
 * order; runs on libuv's pool.
 */
export type BlockCodec = (block: Buffer) => Promise<Buffer | Buffer[]>;

export interface ParallelCompressOptions {
  level?: number;
  /** Bytes per independently compressed block (a gzip member, a zstd frame). */
  blockSize?: number;
  /** Blocks compressed at once (zlib runs them on libuv's thread pool). */
  concurrency?: number;
}

/**
 * Block-parallel compression (pigz, `zstd -T`): the input is cut into blocks that are compressed in parallel as
 * independent units by `codec` and emitted in input order. Formats whose concatenated units are one valid file (gzip
 * members, RFC 1952; zstd frames, RFC 8878) need nothing else.
 *
 * Blocks are filled in a ring of concurrency + 1 buffers allocated once, so memory is blockSize × (concurrency + 1)
 * and a dump makes no garbage besides the compressed output (a fresh 1 MiB buffer per block left ~40 MB more peak RSS
 * waiting for the collector). A codec must be done with its block when its promise settles, and return new memory.
 */
export class ParallelCompress extends Transform {
  private readonly blockSize: number;
  private readonly concurrency: number;
  /** Blocks compressed at once. */
  protected get parallel(): number {
    return this.concurrency;
  }
  private readonly ring: Buffer[] = [];
  /** The ring slot being filled, and how full it is. */
  private slot = 0;
  private filled = 0;
  /** Compressions in flight, in input order. */
  private readonly inflight: Promise<Buffer | Buffer[]>[] = [];
  private emitted = false;

  constructor(
    private readonly codec: BlockCodec,
    opts: Omit<ParallelCompressOptions, 'level'> = {},
  ) {
    super({ highWaterMark: 1 << 20 });
    this.blockSize = opts.blockSize ?? 1 << 20;
    // libuv's pool has 4 threads by default; file and DNS work share it.
    this.concurrency = opts.concurrency ?? Math.max(1, Math.min(4, availableParallelism()));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.fillFrom(chunk).then(() => cb(), cb);
  }

  override _flush(cb: TransformCallback): void {
    (async () => {
      if (this.filled) await this.startBlock();
      while (this.inflight.length) this.emit1(await (this.inflight.shift() as Promise<Buffer | Buffer[]>));
      // An empty dump is still a valid (empty) compressed file.
      if (!this.emitted) this.emit1(await this.codec(Buffer.alloc(0)));
      this.release();
    })().then(() => cb(), cb);
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    this.release();
    cb(err);
  }

  /** Frees what the codec holds (called once the last block is out, or when the stream is destroyed). */
  protected release(): void {}

  private async fillFrom(chunk: Buffer): Promise<void> {
    for (let at = 0; at < chunk.length; ) {
      const buf = (this.ring[this.slot] ??= Buffer.allocUnsafe(this.blockSize));
      const n = chunk.copy(buf, this.filled, at);
      at += n;
      this.filled += n;
      if (this.filled === this.blockSize) await this.startBlock();
    }
  }

  private async startBlock(): Promise<void> {
    this.inflight.push(this.codec((this.ring[this.slot] as Buffer).subarray(0, this.filled)));
    this.slot = (this.slot + 1) % (this.concurrency + 1);
    this.filled = 0;
    // Keep at most `concurrency` blocks compressing; emit the oldest when the window is full. The slot filled next is
    // never one in flight: at most `concurrency` of the concurrency + 1 slots are.
    while (this.inflight.length >= this.concurrency) this.emit1(await (this.inflight.shift() as Promise<Buffer | Buffer[]>));
  }

  private emit1(unit: Buffer | Buffer[]): void {
    this.emitted = true;
    if (Buffer.isBuffer(unit)) this.push(unit);
    else for (const piece of unit) this.push(piece);
  }
}

/**
 * pigz-style multi-member gzip that gunzip, zcat and Node read whole. One kept deflate context per block compressed
 * at once (a Lane, as for zstd): a member ends with Z_FINISH and the context is reset for the next one, instead of
 * zlib.gzip() making a new context and output slice per block (the executable's gzip dump of 670 MB peaked at 205 MB).
 */
export class ParallelGzip extends ParallelCompress {
  private readonly lanes: Lane[];
  constructor(opts: ParallelCompressOptions = {}) {
    const level = opts.level ?? 6;
    const lanes: Lane[] = [];
    let next = 0;
    super((block) => lanes[next++ % lanes.length]!.frame(block), opts);
    this.lanes = lanes;
    for (let i = 0; i < this.parallel; i++) {
      lanes.push(new Lane(zlib.createGzip({ level, strategy: constants.Z_DEFAULT_STRATEGY, chunkSize: OUT_SLICE }) as unknown as ZlibTransform, constants.Z_FINISH, true));
    }
  }

  protected override release(): void {
    for (const l of this.lanes.splice(0)) l.close();
  }
}

/** zstd's default level (what `zstd` with no level uses). */
export const ZSTD_DEFAULT_LEVEL = 3;

/** A node:zlib stream: flush(kind, callback) ends a zstd frame with ZSTD_e_end. */
type ZlibTransform = Transform & { flush(kind: number, callback: (err?: Error | null) => void): void };

/** The part of node:zlib that has zstd (Node 22.15 / 23.8 on); the project's @types/node is Node 20's. */
interface ZstdZlib {
  createZstdCompress?: (opts: { params: Record<number, number>; chunkSize: number }) => ZlibTransform;
  createZstdDecompress?: () => Transform;
}
const zz = zlib as unknown as ZstdZlib;
const C = constants as unknown as Record<string, number | undefined>;

/** node:zlib has zstd. Detected by the function, not the version string. */
export function zstdAvailable(): boolean {
  return typeof zz.createZstdCompress === 'function';
}

/** The sentence's ending for a Node without zstd. */
export function zstdNeedsNode(): string {
  return `zstd needs Node.js 22.15 or later (or 23.8+), and this is Node.js ${process.version}`;
}

/** A zstd decompressor stream (concatenated frames read as one stream), or a clear error on a Node without zstd. */
export function createZstdDecompress(): Transform {
  if (!zz.createZstdDecompress) throw new Error(`${zstdNeedsNode()}.`);
  return zz.createZstdDecompress();
}

/**
 * One compression context kept for a whole dump, compressing one block at a time into one unit each (a zstd frame
 * ends with ZSTD_e_end and the next write starts a new one; a gzip member ends with Z_FINISH, then a reset). zlib.zstdCompress() made a new
 * context per block instead (its ~4 MB workspace allocated on a pool thread, and every frame's output in a fresh
 * 256 KiB slice then copied once more): a 670 MB dump peaked ~40 MB higher with it.
 *
 * The stream's readable side is not used: its push() is taken over, so the pieces of a frame are collected in
 * order before the flush's callback runs (zlib pushes output, then calls back), with no 'data' event ordering to
 * rely on and no buffering in a Readable.
 */
class Lane {
  private readonly stream: ZlibTransform;
  private pieces: Buffer[] = [];
  private tail: Promise<unknown> = Promise.resolve();
  private failed?: Error;
  private closed = false;
  private fail?: (err: Error) => void;

  /** `end` is the flush kind that ends a unit; `reset`: the context must be reset before the next (deflate). */
  constructor(
    stream: ZlibTransform,
    private readonly end: number,
    private readonly reset = false,
  ) {
    this.stream = stream;
    this.stream.push = (piece: Buffer | null) => {
      if (piece !== null) this.pieces.push(piece);
      return true;
    };
    this.stream.on('error', (err: Error) => {
      this.failed = err;
      this.fail?.(err);
    });
  }

  /** One frame of `block`; frames on one lane are made one after the other. */
  frame(block: Buffer): Promise<Buffer[]> {
    const run = this.tail.then(
      () =>
        new Promise<Buffer[]>((resolve, reject) => {
          if (this.failed || this.closed) return reject(this.failed ?? new Error('the compressor was closed'));
          this.fail = reject;
          if (block.length) this.stream.write(block);
          // Called with an error too when the stream is destroyed with this unit in flight (the dump failed).
          this.stream.flush(this.end, (err?: Error | null) => {
            this.fail = undefined;
            if (err || this.failed || this.closed) return reject(err ?? this.failed ?? new Error('the compressor was closed'));
            // Nothing is in flight on the context now: a deflate stream that reached Z_STREAM_END starts the next member.
            if (this.reset) (this.stream as unknown as { reset(): void }).reset();
            const out = this.pieces;
            this.pieces = [];
            resolve(out);
          });
        }),
    );
    this.tail = run.catch(() => undefined);
    return run;
  }

  close(): void {
    this.closed = true;
    this.stream.destroy();
  }
}

/**
 * Multi-frame zstd as `zstd -T` writes it: `zstd -d`, `zstdcat` and Node read the frames back as one stream. Every
 * frame carries its content checksum, so a corrupt byte fails decompression instead of loading altered data. One
 * kept context (Lane) per block compressed at once, each block going to the next lane in turn.
 */
export class ParallelZstd extends ParallelCompress {
  private readonly lanes: Lane[];
  constructor(opts: ParallelCompressOptions = {}) {
    if (!zz.createZstdCompress) throw new Error(`${zstdNeedsNode()}.`);
    const params = { [C.ZSTD_c_compressionLevel ?? 100]: opts.level ?? ZSTD_DEFAULT_LEVEL, [C.ZSTD_c_checksumFlag ?? 201]: 1 };
    const lanes: Lane[] = [];
    let next = 0;
    super((block) => {
      // The window holds at most `concurrency` blocks in flight, one per lane: lane k's previous block is done.
      const lane = lanes[next++ % lanes.length]!;
      return lane.frame(block);
    }, opts);
    this.lanes = lanes;
    for (let i = 0; i < this.parallel; i++) lanes.push(new Lane(zz.createZstdCompress({ params, chunkSize: OUT_SLICE }), C.ZSTD_e_end ?? 2));
  }

  protected override release(): void {
    for (const l of this.lanes.splice(0)) l.close();
  }
}
