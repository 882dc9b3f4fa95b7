import { PassThrough, Writable } from 'node:stream';
import { once } from 'node:events';

/** One branch of a fan-out: the stream a destination reads from, and whether it is still attached. */
export interface Branch {
  name: string;
  stream: PassThrough;
  failed: boolean;
  error?: unknown;
}

/**
 * Writes every chunk to every attached branch, waiting for the slowest one (backpressure), so memory stays at
 * about one highWaterMark per branch. A branch whose consumer failed is detached and the others go on; when no
 * branch is left the fan-out fails.
 */
export class Fanout extends Writable {
  readonly branches: Branch[];
  private readonly failures = new Map<Branch, Promise<void>>();

  constructor(names: string[], highWaterMark = 1 << 20) {
    super({ highWaterMark });
    this.branches = names.map((name) => {
      const stream = new PassThrough({ highWaterMark });
      // A branch can be failed before its consumer attached (e.g. the source died while a storage was still
      // connecting); the consumer still sees the error through the destroyed stream, so it must not crash the process.
      stream.on('error', () => undefined);
      return { name, stream, failed: false };
    });
  }

  /** Detaches a branch (its consumer failed); its stream is destroyed so the consumer's upload aborts. */
  fail(branch: Branch, error: unknown): void {
    if (branch.failed) return;
    branch.failed = true;
    branch.error = error;
    branch.stream.destroy(error instanceof Error ? error : new Error(String(error)));
  }

  private live(): Branch[] {
    return this.branches.filter((b) => !b.failed);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.writeAll(chunk).then(() => cb(), cb);
  }

  private async writeAll(chunk: Buffer): Promise<void> {
    const waits: Promise<unknown>[] = [];
    const done = new AbortController();
    for (const b of this.live()) {
      if (!b.stream.write(chunk)) {
        // Resolve on drain, or when the branch dies (close) so a dead destination cannot stall the rest. The losing
        // listener is removed (the signal) so listeners do not pile up over a long dump.
        const signal = done.signal;
        waits.push(Promise.race([once(b.stream, 'drain', { signal }), once(b.stream, 'close', { signal })]).catch(() => undefined));
      }
    }
    if (waits.length) {
      await Promise.all(waits.map((w) => w.then(() => undefined)));
      done.abort();
    }
    if (this.live().length === 0) throw this.allFailedError();
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.live().length === 0) return cb(this.allFailedError());
    for (const b of this.live()) b.stream.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // Destroyed without an error after a normal finish (autoDestroy): the branches still drain what they hold.
    if (err || !this.writableFinished) for (const b of this.live()) b.stream.destroy(err ?? new Error('the dump was aborted'));
    cb(err);
  }

  private allFailedError(): Error {
    const first = this.branches.find((b) => b.error)?.error;
    return new Error(`every destination failed${first instanceof Error ? `: ${first.message}` : ''}`, { cause: first });
  }
}
