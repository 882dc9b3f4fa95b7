import type { Destination } from '../storage/types.js';
import type { Logger } from '../util/logger.js';
import { retentionPattern, splitKey, type NamingOptions } from './naming.js';
import { deleteSidecars } from './manifest.js';

/**
 * Deletes the oldest backups of this job beyond `keep` at one destination. Only names the job itself writes are
 * considered (exact pattern, same folder); anything else in the folder is never touched.
 */
export async function applyRetention(
  d: Destination,
  configuredKey: string,
  opts: NamingOptions & { keep: number; log: Logger },
): Promise<string[]> {
  const { dir } = splitKey(d.key);
  const pattern = retentionPattern(splitKey(configuredKey).base, opts);
  const mine: string[] = [];
  for await (const obj of d.storage.list(dir)) {
    const rest = obj.key.slice(dir.length);
    if (!rest.includes('/') && pattern.test(rest)) mine.push(obj.key);
  }
  // Timestamp prefixes sort chronologically.
  mine.sort().reverse();
  const doomed = mine.slice(opts.keep);
  for (const key of doomed) {
    await d.storage.delete(key);
    // Its manifest and verification record go with it; a backup from before manifests has none.
    await deleteSidecars(d, key);
    opts.log.info({ destination: d.name, deleted: d.storage.describe(key) }, `retention: deleted ${d.storage.describe(key)} (keep ${opts.keep})`);
  }
  return doomed;
}
