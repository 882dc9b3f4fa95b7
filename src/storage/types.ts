import type { KeepPolicy } from '../config/fields.js';
import type { Readable } from 'node:stream';
import type { RetryPolicy } from '../util/retry.js';
import type { FileMode } from './mode.js';

/** The name of an upload in progress (`name.partial`) in local and sftp storage; listings and sync sources skip it. */
export const PARTIAL_SUFFIX = '.partial';

/** Flush-behind in local and sftp storage: bytes written between two background flushes of the partial file. */
export const FLUSH_BEHIND_EVERY = 64 * 1024 * 1024;

/** What a backend knows about one stored object. */
export interface ObjectInfo {
  /** Key relative to the storage's root (forward slashes). */
  key: string;
  size: number;
  modified?: Date;
  /** Backend-native content hash when the backend offers one (e.g. md5 for Drive, content_hash for Dropbox, ETag for S3). */
  hash?: { algorithm: string; value: string };
}

export interface PutOptions {
  /** Total length when known in advance; backends must cope with unknown length. */
  size?: number;
  /** Aborts the upload; the backend must leave nothing under the final name. */
  signal?: AbortSignal;
  /** Called as bytes are acknowledged by the destination. */
  onProgress?: (bytesAcked: number) => void;
  /** Expected sha256 (hex) of the whole body, when the caller knows it, for verification. */
  sha256?: string;
  /** Resume an interrupted upload of this key from the remote partial object, when the backend can. */
  resume?: boolean;
  /**
   * Permission bits of the file, for backends that have them (local, sftp): a number is set exactly; 'umask' (file
   * copies: sync, binlog sync) gives 0666 less the umask unless the storage has its own `mode:`. Unset: the storage's
   * `mode:`, else 0600 (backups).
   */
  mode?: FileMode;
}

export interface StoredObject {
  key: string;
  size: number;
  /** Human-readable location, never containing credentials (e.g. s3://bucket/key, /abs/path). */
  location: string;
  hash?: { algorithm: string; value: string };
}

/**
 * One storage backend. Keys are relative to the backend's root; a backend never exposes a half-written object under
 * its final key (write to a temporary name or session, commit at the end, abort on failure).
 */
export interface Storage {
  /** Backend name as in the config (`local`, `s3`, `gdrive`, `dropbox`, `sftp`). */
  readonly kind: string;
  /** Where this storage points, for messages (credentials never included). */
  describe(key?: string): string;
  put(key: string, body: Readable, opts?: PutOptions): Promise<StoredObject>;
  get(key: string, opts?: { signal?: AbortSignal; start?: number }): Promise<Readable>;
  list(prefix: string): AsyncIterable<ObjectInfo>;
  stat(key: string): Promise<ObjectInfo | undefined>;
  delete(key: string): Promise<void>;
  /** Releases connections. Safe to call more than once. */
  close?(): Promise<void>;
  /** This backend's retry policy (e.g. SFTP `maxattempts`); the retrying wrapper and the backend's resume both use it. */
  readonly retryPolicy?: Partial<RetryPolicy>;
  /** Compare-and-swap writes of small objects, where the store has them (S3: If-None-Match / If-Match); for leases. */
  readonly conditional?: ConditionalWrites;
}

/** A small object with its version tag, as read for a compare-and-swap. */
export interface VersionedObject {
  body: Buffer;
  /** The store's version tag of exactly these bytes (S3: the ETag, quotes kept). */
  etag: string;
  /** How long ago it was last written, by the store's own clock where it says (S3: Date − Last-Modified), else ours. */
  ageMs?: number;
}

/**
 * Conditional writes of small objects: each call either happens whole or not at all, decided by the store, so that of
 * several writers racing only one succeeds. `undefined`/false means the condition did not hold (someone else wrote or
 * deleted it first); any other failure throws.
 */
export interface ConditionalWrites {
  /** Creates `key` only if it does not exist (S3 If-None-Match: *); its new etag, or undefined when it exists. */
  createIfAbsent(key: string, body: Buffer, signal?: AbortSignal): Promise<string | undefined>;
  /** Replaces `key` only if its etag is still `etag` (S3 If-Match); the new etag, or undefined when it changed or is gone. */
  replaceIf(key: string, etag: string, body: Buffer, signal?: AbortSignal): Promise<string | undefined>;
  /** The object with its etag, or undefined when there is none. */
  read(key: string, signal?: AbortSignal): Promise<VersionedObject | undefined>;
  /** Deletes `key` only if its etag is still `etag`; false when it changed or is gone. */
  deleteIf(key: string, etag: string, signal?: AbortSignal): Promise<boolean>;
}

/** A configured destination of a job: a storage plus the key the job writes to. */
export interface Destination {
  /** e.g. `local[0]`, `s3[1]` — the config path, for results and messages. */
  name: string;
  storage: Storage;
  key: string;
  /** Retention of this job's backups at this destination: the newest N, or tiers (see docs/retention.md). */
  keep?: KeepPolicy;
}
