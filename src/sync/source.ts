import { createReadStream } from 'node:fs';
import { opendir, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { createHash } from 'node:crypto';
import picomatch from 'picomatch';
import { OnedumpError, UsageError } from '../util/errors.js';
import { CHECKSUM_STATE_FILE } from './state.js';
import { PARTIAL_SUFFIX } from '../storage/types.js';

/** One local file to send. */
export interface SourceFile {
  /** Absolute path. */
  path: string;
  /** Path relative to the source folder, with forward slashes (the file name for a single-file source). */
  rel: string;
  size: number;
  mtimeMs: number;
}

export interface SourceSpec {
  /** A file or a folder. */
  source: string;
  /** Glob on the file name (or on the relative path when it contains a slash). */
  pattern?: string;
  /** Descend into sub-folders (the Go tool sends only the files directly in the folder). */
  recursive?: boolean;
  /** Files never sent: the checksum state, logs the tool writes itself. */
  exclude?: string[];
}

export interface ResolvedSource {
  isFolder: boolean;
  /** The folder holding the files (the source itself, or a file's folder). */
  folder: string;
  files: SourceFile[];
}

/** Lists the files a sync would consider, sorted by relative path. */
export async function listSource(spec: SourceSpec): Promise<ResolvedSource> {
  const src = resolve(spec.source);
  let st;
  try {
    st = await stat(src);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`source ${src} does not exist; check the path.`);
    throw new OnedumpError(`cannot read source ${src}: ${(err as Error).message}.`, { cause: err });
  }
  const excluded = new Set((spec.exclude ?? []).map((p) => resolve(p)));
  if (!st.isDirectory()) {
    if (!st.isFile()) throw new UsageError(`source ${src} is neither a file nor a folder.`);
    return { isFolder: false, folder: dirname(src), files: [{ path: src, rel: basename(src), size: st.size, mtimeMs: st.mtimeMs }] };
  }
  let match: (rel: string) => boolean = () => true;
  if (spec.pattern) {
    try {
      match = picomatch(spec.pattern, { basename: !spec.pattern.includes('/'), dot: true });
    } catch (err) {
      throw new UsageError(`--pattern "${spec.pattern}" is not a valid glob: ${(err as Error).message}.`);
    }
  }
  const files: SourceFile[] = [];
  const walk = async (dir: string): Promise<void> => {
    const names: string[] = [];
    for await (const ent of await opendir(dir)) names.push(ent.name);
    names.sort();
    for (const name of names) {
      const full = join(dir, name);
      const s = await stat(full).catch(() => undefined);
      if (!s) continue;
      if (s.isDirectory()) {
        if (spec.recursive) await walk(full);
        continue;
      }
      if (!s.isFile() || name.endsWith(PARTIAL_SUFFIX) || excluded.has(full)) continue;
      if (name === CHECKSUM_STATE_FILE || /^\.checksum\.onedump\..*\.tmp$/.test(name)) continue;
      const rel = relative(src, full).split(sep).join('/');
      if (!match(rel)) continue;
      files.push({ path: full, rel, size: s.size, mtimeMs: s.mtimeMs });
    }
  };
  await walk(src);
  return { isFolder: true, folder: src, files };
}

/** sha256 (hex) of the first `limit` bytes of a file (the whole file when limit is undefined). */
export async function hashFile(path: string, limit?: number, algorithm = 'sha256'): Promise<string> {
  const h = createHash(algorithm);
  if (limit === 0) return h.digest('hex');
  const stream = createReadStream(path, { end: limit === undefined ? undefined : limit - 1, highWaterMark: 1024 * 1024 });
  for await (const chunk of stream) h.update(chunk as Buffer);
  return h.digest('hex');
}
