import { PassThrough, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import type { Destination, StoredObject } from '../storage/types.js';
import type { DumpInfo } from '../dump/types.js';
import { Fanout } from './fanout.js';
import { compressionOf, compressor, type CompressionChoice } from './compression.js';
import { encryptStream } from '../crypto/age.js';
import { errorMessage } from '../util/errors.js';

export interface PipelineOptions {
  /** The Go tool's switch (with gzipLevel); `compression` wins when set. */
  gzip: boolean;
  gzipLevel?: number;
  compression?: CompressionChoice;
  /** age recipients: encrypt after compression, so the hash and every destination see the encrypted bytes. */
  encrypt?: string[];
  signal: AbortSignal;
  /** Called with the total bytes produced so far (after compression and encryption). */
  onProgress?: (bytes: number) => void;
  /** Shown every chunk of the dump as the dumper wrote it (before compression), e.g. to tally its tables. */
  observeRaw?: (chunk: Buffer) => void;
}

export interface DestinationOutcome {
  destination: Destination;
  ok: boolean;
  stored?: StoredObject;
  error?: unknown;
}

export interface PipelineResult {
  info?: DumpInfo;
  /** Bytes produced (after compression and encryption): what every destination should hold. */
  bytes: number;
  sha256: string;
  outcomes: DestinationOutcome[];
  /** Set when the source failed or every destination failed. */
  error?: unknown;
}

/**
 * source → gzip or zstd (once) → age (once) → sha256 → fan-out to every destination with backpressure. The source runs once; a failing
 * destination is detached without stalling the others. Destinations commit only when the whole stream arrived, so
 * a failed run leaves no object under a final name.
 */
export async function runPipeline(
  produce: (out: Writable, signal: AbortSignal) => Promise<DumpInfo>,
  destinations: Destination[],
  opts: PipelineOptions,
): Promise<PipelineResult> {
  const inner = new AbortController();
  const onOuterAbort = () => inner.abort(opts.signal.reason);
  opts.signal.addEventListener('abort', onOuterAbort, { once: true });
  const source = new PassThrough({ highWaterMark: 1 << 20 });
  // A second 'data' listener sees every chunk the pipeline reads, in order, without changing the flow.
  if (opts.observeRaw) source.on('data', opts.observeRaw);
  const hash = createHash('sha256');
  let bytes = 0;
  const meter = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      opts.onProgress?.(bytes);
      cb(null, chunk);
    },
  });
  const fanout = new Fanout(destinations.map((d) => d.name));
  const uploads = destinations.map(async (d, i): Promise<DestinationOutcome> => {
    const branch = fanout.branches[i]!;
    try {
      const stored = await d.storage.put(d.key, branch.stream, { signal: inner.signal });
      return { destination: d, ok: true, stored };
    } catch (error) {
      fanout.fail(branch, error);
      return { destination: d, ok: false, error };
    }
  });
  const stages: NodeJS.ReadWriteStream[] = [];
  const compress = compressor(opts.compression ?? compressionOf({ gzip: opts.gzip, gziplevel: opts.gzipLevel }));
  if (compress) stages.push(compress);
  if (opts.encrypt?.length) stages.push(encryptStream(opts.encrypt));
  const flow = pipeline([source, ...stages, meter, fanout] as unknown as [NodeJS.ReadableStream, NodeJS.WritableStream]);
  // When the flow dies (every destination failed), stop the source at once: it may be waiting for a drain that never comes.
  flow.catch((err: unknown) => inner.abort(err));
  const dumping = (async () => {
    try {
      const info = await produce(source, inner.signal);
      source.end();
      return info;
    } catch (err) {
      source.destroy(err as Error);
      throw err;
    }
  })();
  const [dumpRes, flowRes] = await Promise.allSettled([dumping, flow]);
  if (flowRes.status === 'rejected' || dumpRes.status === 'rejected') {
    // Make every upload abort rather than commit a truncated object.
    const reason = dumpRes.status === 'rejected' ? dumpRes.reason : (flowRes as PromiseRejectedResult).reason;
    for (const b of fanout.branches) fanout.fail(b, reason);
    inner.abort(reason);
  }
  const outcomes = await Promise.all(uploads);
  opts.signal.removeEventListener('abort', onOuterAbort);
  const result: PipelineResult = {
    info: dumpRes.status === 'fulfilled' ? dumpRes.value : undefined,
    bytes,
    sha256: hash.digest('hex'),
    outcomes,
  };
  if (dumpRes.status === 'rejected') result.error = dumpRes.reason;
  else if (flowRes.status === 'rejected') result.error = flowRes.reason;
  if (result.error) {
    // Destinations report the source's failure, not a secondary "stream destroyed".
    for (const o of outcomes) if (o.ok === false && !o.error) o.error = result.error;
  }
  return result;
}

export function outcomeMessage(o: DestinationOutcome): string | undefined {
  return o.ok ? undefined : errorMessage(o.error);
}
