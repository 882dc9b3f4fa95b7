import type { Transform } from 'node:stream';
import { ParallelGzip, ParallelZstd, ZSTD_DEFAULT_LEVEL } from './parallel-compress.js';

export const COMPRESSIONS = ['zstd', 'gzip', 'none'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/** What a job's keys say: `compression:`/`compressionlevel`, or the Go tool's `gzip: true`/`gziplevel`. */
export interface CompressionKeys {
  gzip?: boolean;
  gziplevel?: number;
  compression?: Compression;
  compressionlevel?: number;
}

export interface CompressionChoice {
  algorithm: Compression;
  /** Absent for none. */
  level?: number;
}

export const DEFAULT_LEVEL: Record<Exclude<Compression, 'none'>, number> = { zstd: ZSTD_DEFAULT_LEVEL, gzip: 6 };
/** The levels a job may ask for (zstd goes to 22, but 20–22 need far more memory for little gain). */
export const LEVEL_RANGE: Record<Exclude<Compression, 'none'>, [number, number]> = { zstd: [1, 19], gzip: [1, 9] };

/** The file name suffix of each compression. */
export const SUFFIX: Record<Compression, string> = { zstd: '.zst', gzip: '.gz', none: '' };

/** The compression a job's config asks for (the load-time checks have already refused contradictions). */
export function compressionOf(job: CompressionKeys): CompressionChoice {
  const algorithm: Compression = job.compression ?? (job.gzip ? 'gzip' : 'none');
  if (algorithm === 'none') return { algorithm };
  return { algorithm, level: job.compressionlevel ?? (algorithm === 'gzip' ? job.gziplevel : undefined) ?? DEFAULT_LEVEL[algorithm] };
}

/** The block-parallel compressor of a choice, or none. */
export function compressor(c: CompressionChoice): Transform | undefined {
  if (c.algorithm === 'gzip') return new ParallelGzip({ level: c.level });
  if (c.algorithm === 'zstd') return new ParallelZstd({ level: c.level });
  return undefined;
}

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
/** Bytes compressionByMagic needs to see. */
export const MAGIC_BYTES = ZSTD_MAGIC.length;

/** gzip or zstd by a stream's first bytes (MAGIC_BYTES of them, fewer at its end), else undefined. */
export function compressionByMagic(head: Buffer): 'gzip' | 'zstd' | undefined {
  if (head.subarray(0, 2).equals(GZIP_MAGIC)) return 'gzip';
  if (head.subarray(0, 4).equals(ZSTD_MAGIC)) return 'zstd';
  return undefined;
}
