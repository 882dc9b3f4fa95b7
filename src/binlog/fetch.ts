import { createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { storageFromUrl } from '../storage/registry.js';
import { OnedumpError } from '../util/errors.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { splitBinlogName } from './files.js';
import { mkdirs } from '../util/mkdirs.js';

export interface FetchResult {
  downloaded: string[];
  skipped: string[];
}

/**
 * Copies the binlog files (prefix.NNNNNN) under a storage URL into a local folder, skipping files already present
 * with the same size. Each file is written as name.partial and renamed when complete.
 */
export async function fetchBinlogs(url: string, dir: string, log: Logger = silentLogger): Promise<FetchResult> {
  const folderUrl = url.endsWith('/') ? url : `${url}/`;
  const { storage, key } = storageFromUrl(folderUrl, { log });
  const prefix = key && !key.endsWith('/') ? `${key}/` : key;
  await mkdirs(dir);
  const result: FetchResult = { downloaded: [], skipped: [] };
  try {
    const byName = new Map<string, { key: string; name: string; size: number }>();
    for await (const o of storage.list(prefix)) {
      // The Go tool stored PREFIX + "/" + name, so a prefix given with a trailing slash left binlogs//NAME keys.
      const name = o.key.slice(prefix.length).replace(/^\/+/, '');
      if (!name || name.includes('/') || !splitBinlogName(name)) continue;
      // Both forms present (shipped by both tools): binlogs only grow, so the larger copy is the newer one.
      const seen = byName.get(name);
      if (!seen || o.size > seen.size) byName.set(name, { key: o.key, name, size: o.size });
    }
    const wanted = [...byName.values()];
    if (wanted.length === 0) throw new OnedumpError(`no binlog files (name.NNNNNN) were found at ${storage.describe(prefix)}.`);
    for (const w of wanted) {
      const dest = join(dir, w.name);
      const have = await stat(dest).catch(() => undefined);
      if (have?.size === w.size) {
        result.skipped.push(w.name);
        continue;
      }
      const partial = `${dest}.partial`;
      try {
        await pipeline(await storage.get(w.key), createWriteStream(partial));
        await rename(partial, dest);
      } catch (err) {
        await rm(partial, { force: true });
        throw new OnedumpError(`cannot download ${storage.describe(w.key)}: ${(err as Error).message}.`, { cause: err });
      }
      log.info({ file: w.name, bytes: w.size }, 'downloaded binlog');
      result.downloaded.push(w.name);
    }
  } finally {
    await storage.close?.();
  }
  return result;
}
