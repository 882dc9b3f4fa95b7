import type { Storage } from '../storage/types.js';
import { errorMessage } from '../util/errors.js';
import { KEEP_SUFFIX, MANIFEST_SUFFIX, VERIFY_SUFFIX, isSidecar, readJson, readManifest, type BackupManifest } from './manifest.js';
import { PARTIAL_SUFFIX } from '../storage/types.js';
import type { Compression } from './compression.js';

/** The last `onedump verify` of a backup, as stored in NAME.verify.json. */
export interface VerifyRecord {
  format: 'onedump-verify-result';
  version: 1;
  ok: boolean;
  at: string;
  backup: string;
  durationMs: number;
  restoreMs?: number;
  differences: string[];
  error?: string;
  target?: string;
}

/** One backup at one destination, with what its sidecar files say. */
export interface CatalogEntry {
  key: string;
  name: string;
  size: number;
  /** When the backup was made: the manifest's time, else the name's YYYYMMDDHHMMSS prefix, else the object's mtime. */
  time?: string;
  location: string;
  manifest?: BackupManifest;
  /** Why the manifest could not be read (a backup from before manifests simply has none). */
  manifestError?: string;
  verify?: VerifyRecord;
  encrypted: boolean;
  compressed: boolean;
  /** gzip or zstd by the manifest, else by the name's .gz/.zst; none when neither says. */
  compression: Compression;
  /** Marked permanent (`onedump mark --keep`: a NAME.keep beside it); retention never deletes it. */
  marked: boolean;
}

/** The time of a name's YYYYMMDDHHMMSS- prefix (the job's unique naming, UTC), as ISO 8601. */
export function timeFromName(name: string): string | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})-/.exec(name);
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.000Z` : undefined;
}

/**
 * Lists the backups in a folder of a storage, newest first, with their manifests and last verification. `accept`
 * narrows it to one job's names (what retention counts); sidecars and upload leftovers are never listed as backups.
 */
export async function listBackups(
  storage: Storage,
  dir: string,
  opts: { accept?: (name: string) => boolean; signal?: AbortSignal; /** false: the listing only, no sidecar reads (default true). */ sidecars?: boolean } = {},
): Promise<CatalogEntry[]> {
  const objects = new Map<string, { size: number; modified?: Date }>();
  for await (const o of storage.list(dir)) {
    const rest = o.key.slice(dir.length);
    if (rest.includes('/')) continue;
    objects.set(o.key, { size: o.size, modified: o.modified });
  }
  const entries: CatalogEntry[] = [];
  for (const [key, o] of objects) {
    const name = key.slice(dir.length);
    if (isSidecar(name) || name.endsWith(PARTIAL_SUFFIX)) continue;
    if (opts.accept && !opts.accept(name)) continue;
    const e: CatalogEntry = {
      key,
      name,
      size: o.size,
      location: storage.describe(key),
      encrypted: /\.age$/.test(name),
      compressed: false,
      compression: /\.zst(\.age)?$/.test(name) ? 'zstd' : /\.gz(\.age)?$/.test(name) ? 'gzip' : 'none',
      marked: objects.has(key + KEEP_SUFFIX),
    };
    if (opts.sidecars !== false && objects.has(key + MANIFEST_SUFFIX)) {
      try {
        e.manifest = await readManifest(storage, key, opts.signal);
      } catch (err) {
        e.manifestError = errorMessage(err);
      }
    }
    if (opts.sidecars !== false && objects.has(key + VERIFY_SUFFIX)) {
      try {
        e.verify = (await readJson(storage, key + VERIFY_SUFFIX, opts.signal)) as VerifyRecord;
      } catch (err) {
        e.manifestError ??= `its verify record is unreadable: ${errorMessage(err)}`;
      }
    }
    if (e.manifest) {
      e.encrypted = Boolean(e.manifest.encryption);
      e.compression = e.manifest.compression.algorithm;
    }
    e.compressed = e.compression !== 'none';
    e.time = e.manifest?.finishedAt ?? timeFromName(name) ?? o.modified?.toISOString();
    entries.push(e);
  }
  entries.sort((a, b) => (b.time ?? '').localeCompare(a.time ?? '') || b.name.localeCompare(a.name));
  return entries;
}
