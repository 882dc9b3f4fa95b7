import type { z } from 'zod';
import type { Logger } from '../util/logger.js';
import type { Storage } from './types.js';

export interface StorageContext {
  log: Logger;
}

/** Where one configured storage entry writes: a storage rooted somewhere, and the key of the job's file in it. */
export interface ResolvedTarget {
  storage: Storage;
  key: string;
}

/**
 * A storage backend declares its config options once (a zod object whose fields carry descriptions and secret
 * markers) and how to build a Storage from them or from a URL. Registering it (registry.ts) is the only other edit.
 */
export interface StorageBackend<O = Record<string, unknown>> {
  /** The key under a job's `storage:` (local, s3, gdrive, dropbox, sftp). */
  readonly kind: string;
  readonly summary: string;
  /** Options of one entry in the config list. */
  readonly options: z.ZodType<O>;
  /** Its storages offer `conditional` (compare-and-swap writes), so a job's lease (lock.lease) can live there. */
  readonly conditionalWrites?: boolean;
  /** URL schemes this backend answers (`file`, `s3`, …). */
  readonly schemes: string[];
  /** Builds the storage for one config entry and the key the job writes to. */
  fromConfig(opts: O, ctx: StorageContext): ResolvedTarget;
  /** Builds a storage from a URL such as `s3://bucket/prefix?region=…`; `key` is the URL's path part. */
  fromUrl(url: URL, ctx: StorageContext, extra?: Record<string, unknown>): ResolvedTarget;
  /** A URL-like description of a config entry, for --dry-run plans (no credentials). */
  describe(opts: O): string;
}
