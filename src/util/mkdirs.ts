import { mkdirSync, statSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * `mkdir -p`, one level at a time. Node's own `mkdir(…, { recursive: true })` never returns on some paths: under /proc,
 * mkdir of a missing entry fails with ENOENT although its parent exists, and Node retries forever at 100% CPU. Here
 * a level that still cannot be created once its parent exists is an error (ENOENT, EACCES, …) like any other.
 */
export async function mkdirs(path: string, mode?: number): Promise<void> {
  try {
    await mkdir(path, { mode });
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if ((await stat(path)).isDirectory()) return;
      throw err;
    }
    const parent = dirname(path);
    if (code !== 'ENOENT' || parent === path) throw err;
    await mkdirs(parent, mode);
  }
  try {
    await mkdir(path, { mode });
  } catch (err) {
    // Created by someone else meanwhile.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !(await stat(path)).isDirectory()) throw err;
  }
}

/** mkdirs for synchronous callers. */
export function mkdirsSync(path: string, mode?: number): void {
  try {
    mkdirSync(path, { mode });
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if (statSync(path).isDirectory()) return;
      throw err;
    }
    const parent = dirname(path);
    if (code !== 'ENOENT' || parent === path) throw err;
    mkdirsSync(parent, mode);
  }
  try {
    mkdirSync(path, { mode });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(path).isDirectory()) throw err;
  }
}
