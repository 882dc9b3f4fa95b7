import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../util/logger.js';
import { DEFAULT_RETRY, backoffDelay, retry, type RetryPolicy } from '../util/retry.js';
import { errorMessage, isTransient } from '../util/errors.js';
import type { ConditionalWrites, ObjectInfo, PutOptions, Storage, StoredObject } from './types.js';

export interface RetryingOptions {
  /** Overrides the storage's own policy (Storage.retryPolicy) and the defaults. */
  policy?: Partial<RetryPolicy>;
  log?: Logger;
}

/**
 * Wraps any Storage so transient faults are retried with backoff (restic's backend_retry): stat, delete and opening
 * a download are retried whole; a download that drops mid-stream is re-opened at the byte it reached; a listing that
 * drops is restarted and the keys already seen are skipped. An upload is retried whole only while none of its body
 * has been read (a refused connection, say): once bytes flow the backend itself resumes from its last acknowledged
 * offset, because a dump is streamed once and cannot be read again.
 */
export class RetryingStorage implements Storage {
  readonly kind: string;
  readonly inner: Storage;
  readonly retryPolicy: RetryPolicy;
  /** Passed through unretried: a conditional write that may have happened cannot be blindly sent again (src/jobs/lease.ts decides). */
  readonly conditional?: ConditionalWrites;
  private readonly log?: Logger;

  constructor(inner: Storage, opts: RetryingOptions = {}) {
    this.inner = inner;
    this.kind = inner.kind;
    this.conditional = inner.conditional;
    this.retryPolicy = { ...DEFAULT_RETRY, ...inner.retryPolicy, ...opts.policy };
    this.log = opts.log;
  }

  describe(key?: string): string {
    return this.inner.describe(key);
  }

  private onRetry(what: string) {
    return (err: unknown, attempt: number, delayMs: number) =>
      this.log?.warn(`${this.kind} storage: ${what} failed with a transient fault (${errorMessage(err)}); retry ${attempt} in ${delayMs} ms`);
  }

  async put(key: string, body: Readable, opts: PutOptions = {}): Promise<StoredObject> {
    let gate: Gate | undefined;
    try {
      return await retry(
        async () => {
          gate = new Gate(body);
          try {
            return await this.inner.put(key, gate, opts);
          } finally {
            gate.detach();
          }
        },
        {
          policy: this.retryPolicy,
          signal: opts.signal,
          retryable: (err) => gate !== undefined && gate.pulled === 0 && !body.destroyed && !body.readableEnded && isTransient(err),
          onRetry: this.onRetry(`upload of ${this.describe(key)}`),
        },
      );
    } catch (err) {
      // Whoever writes the body learns it will not be read further (the error itself is put()'s rejection).
      if (!body.destroyed) body.destroy();
      throw err;
    }
  }

  async get(key: string, opts: { signal?: AbortSignal; start?: number } = {}): Promise<Readable> {
    const policy = this.retryPolicy;
    const open = (start: number) =>
      retry(() => this.inner.get(key, { ...opts, start }), { policy, signal: opts.signal, onRetry: this.onRetry(`download of ${this.describe(key)}`) });
    let pos = opts.start ?? 0;
    const first = await open(pos);
    const log = this.log;
    const what = this.describe(key);
    const kind = this.kind;
    async function* resuming(): AsyncGenerator<Buffer> {
      let stream: Readable = first;
      for (let failures = 0; ; ) {
        try {
          for await (const chunk of stream) {
            const b = chunk as Buffer;
            pos += b.length;
            failures = 0;
            yield b;
          }
          return;
        } catch (err) {
          failures++;
          if (!isTransient(err) || failures >= policy.attempts || opts.signal?.aborted) throw err;
          const delay = backoffDelay(failures, policy);
          log?.warn(`${kind} storage: download of ${what} dropped at byte ${pos} (${errorMessage(err)}); resuming in ${delay} ms`);
          await sleep(delay, undefined, { signal: opts.signal });
          stream = await open(pos);
        }
      }
    }
    return Readable.from(resuming(), { objectMode: false });
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const seen = new Set<string>();
    for (let failures = 0; ; ) {
      try {
        for await (const obj of this.inner.list(prefix)) {
          if (seen.has(obj.key)) continue;
          seen.add(obj.key);
          failures = 0;
          yield obj;
        }
        return;
      } catch (err) {
        failures++;
        if (!isTransient(err) || failures >= this.retryPolicy.attempts) throw err;
        const delay = backoffDelay(failures, this.retryPolicy);
        this.onRetry(`listing of ${this.describe(prefix)}`)(err, failures, delay);
        await sleep(delay);
      }
    }
  }

  stat(key: string): Promise<ObjectInfo | undefined> {
    return retry(() => this.inner.stat(key), { policy: this.retryPolicy, onRetry: this.onRetry(`stat of ${this.describe(key)}`) });
  }

  delete(key: string): Promise<void> {
    return retry(() => this.inner.delete(key), { policy: this.retryPolicy, onRetry: this.onRetry(`delete of ${this.describe(key)}`) });
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }
}

export function withRetries(storage: Storage, opts: RetryingOptions = {}): Storage {
  return storage instanceof RetryingStorage ? storage : new RetryingStorage(storage, opts);
}

/**
 * A readable that pulls from `src` only when its own consumer reads, and counts what it pulled. Destroying the gate
 * (a failed attempt) leaves `src` intact, so an attempt that read nothing can be repeated with a new gate.
 */
class Gate extends Readable {
  pulled = 0;
  private readonly src: Readable;
  private waiting = false;
  private readonly onReadable = () => {
    this.waiting = false;
    this._read();
  };
  private readonly onEnd = () => {
    if (!this.destroyed) this.push(null);
  };
  private readonly onError = (err: Error) => {
    if (!this.destroyed) this.destroy(err);
  };

  constructor(src: Readable) {
    super({ highWaterMark: src.readableHighWaterMark });
    this.src = src;
    // The attempt's failure reaches the caller through put()'s rejection; a late 'error' must not crash the process.
    this.on('error', () => undefined);
    src.on('end', this.onEnd);
    src.on('error', this.onError);
    if (src.errored) queueMicrotask(() => this.onError(src.errored as Error));
    else if (src.readableEnded) queueMicrotask(this.onEnd);
  }

  override _read(): void {
    for (;;) {
      const chunk = this.src.read() as Buffer | null;
      if (chunk === null) {
        if (!this.waiting && !this.src.readableEnded) {
          this.waiting = true;
          this.src.once('readable', this.onReadable);
        }
        return;
      }
      this.pulled += chunk.length;
      if (!this.push(chunk)) return;
    }
  }

  detach(): void {
    this.src.off('end', this.onEnd);
    this.src.off('error', this.onError);
    this.src.off('readable', this.onReadable);
    this.waiting = false;
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.detach();
    cb(err);
  }
}
