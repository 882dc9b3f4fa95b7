import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { OnedumpError } from '../util/errors.js';
import { writeAtomic } from '../util/atomic-file.js';

/** The Go tool's state file name, kept so existing state files keep working. */
export const CHECKSUM_STATE_FILE = 'checksum.onedump';

/** Where the state lives: `--checksum-file`, else checksum.onedump in the folder that holds the source (the Go tool's rule). */
export function defaultStatePath(sourceFolder: string, checksumFile?: string): string {
  return checksumFile && checksumFile.trim() ? checksumFile : join(sourceFolder, CHECKSUM_STATE_FILE);
}

/**
 * The checksum state: the sha256 (hex) of every file already transferred, one per line, lines separated by "\n"
 * with no trailing newline — exactly the Go tool's `checksum.onedump`. Unlike the Go tool (which appends in place),
 * every change rewrites the file as temp + fsync + rename + folder fsync, so a crash leaves either the old list or
 * the new one. Concurrent `record` calls are coalesced into one write.
 */
export class ChecksumState {
  readonly path: string;
  private readonly lines: string[] = [];
  private readonly set = new Set<string>();
  private pending: string[] = [];
  private writing?: Promise<void>;
  private waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];

  private constructor(path: string) {
    this.path = path;
  }

  /** Reads the state file; a missing file is an empty state. Blank lines and CRLF are tolerated as the Go tool's scanner does. */
  static async load(path: string): Promise<ChecksumState> {
    const s = new ChecksumState(path);
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new OnedumpError(`cannot read the checksum state file ${path}: ${(err as Error).message}; check its permissions or pass --checksum-file.`, { cause: err });
      }
    }
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (line && !s.set.has(line)) {
        s.set.add(line);
        s.lines.push(line);
      }
    }
    return s;
  }

  /** Removes the state file (what the Go tool does when --checksum is off). */
  static async remove(path: string): Promise<void> {
    await rm(path, { force: true });
  }

  has(sha256: string): boolean {
    return this.set.has(sha256);
  }

  get size(): number {
    return this.set.size;
  }

  hashes(): string[] {
    return [...this.lines];
  }

  /** Adds a hash and resolves once a state file containing it is durably on disk. */
  record(sha256: string): Promise<void> {
    if (this.set.has(sha256) && !this.pending.includes(sha256)) return this.writing ?? Promise.resolve();
    if (!this.set.has(sha256)) {
      this.set.add(sha256);
      this.pending.push(sha256);
    }
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.writing ??= this.flushLoop();
    return p;
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.pending.length) {
        const batch = this.pending;
        const waiters = this.waiters;
        this.pending = [];
        this.waiters = [];
        try {
          await writeAtomic(this.path, [...this.lines, ...batch].join('\n'));
          this.lines.push(...batch);
          for (const w of waiters) w.resolve();
        } catch (err) {
          for (const h of batch) this.set.delete(h);
          const e = new OnedumpError(
            `cannot write the checksum state file ${this.path}: ${(err as Error).message}; check that its folder is writable or pass --checksum-file.`,
            { cause: err },
          );
          for (const w of waiters) w.reject(e);
        }
      }
    } finally {
      this.writing = undefined;
    }
  }
}
