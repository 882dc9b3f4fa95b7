import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storageFromUrl } from '../../src/storage/registry.js';
import { silentLogger } from '../../src/util/logger.js';
import { storageConformance } from './conformance.js';
import { describe, it, expect } from 'vitest';
import { Readable } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { LocalStorage } from '../../src/storage/local.js';

const MiB = 1024 * 1024;

let dir: string | undefined;
storageConformance('local', {
  async make() {
    dir = await mkdtemp(join(tmpdir(), 'onedump-local-'));
    return storageFromUrl(`${dir}/`, { log: silentLogger }).storage;
  },
  async cleanup() {
    if (dir) await rm(dir, { recursive: true, force: true });
  },
});

describe('local storage flush-behind', () => {
  it('flushes the file to disk while it is written, and the file is whole', async () => {
    const root = await mkdtemp(join(tmpdir(), 'onedump-local-flush-'));
    try {
      const st = new LocalStorage(root, { flushEvery: 2 * MiB });
      const hash = createHash('sha256');
      const size = 24 * MiB;
      let flushedWhileWriting = 0;
      // A source that waits (up to 10 s) for a flush after every 4 MiB: the flushes happen during the write.
      const paced = Readable.from((async function* () {
        for (let sent = 0; sent < size; sent += MiB) {
          const chunk = randomBytes(MiB);
          hash.update(chunk);
          yield chunk;
          if (sent % (4 * MiB) === 3 * MiB) {
            const before = st.lastFlushes;
            for (let i = 0; i < 200 && st.lastFlushes === before; i++) await new Promise((r) => setTimeout(r, 50));
            if (st.lastFlushes > before) flushedWhileWriting++;
          }
        }
      })());
      const stored = await st.put('a/flushed.bin', paced);
      expect(stored.size).toBe(size);
      expect(flushedWhileWriting).toBe(6);
      expect(createHash('sha256').update(readFileSync(join(root, 'a/flushed.bin'))).digest('hex')).toBe(hash.digest('hex'));
      expect(existsSync(join(root, 'a/flushed.bin.partial'))).toBe(false);
      // Off, and for files smaller than the interval: no flush before the final fsync.
      const off = new LocalStorage(root, { flushEvery: 0 });
      await off.put('b.bin', Readable.from([randomBytes(5 * MiB)]));
      expect(off.lastFlushes).toBe(0);
      await st.put('c.bin', Readable.from([randomBytes(MiB)]));
      expect(st.lastFlushes).toBe(0);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
