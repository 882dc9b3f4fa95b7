import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { storageFromUrl } from '../../src/storage/registry.js';
import { silentLogger } from '../../src/util/logger.js';
import { storageConformance } from './conformance.js';
import { describe, it, expect } from 'vitest';
import { Readable } from 'node:stream';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { LocalStorage } from '../../src/storage/local.js';
import { pacedRandomStream } from '../../testutils/streams.js';

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
      const size = 24 * MiB;
      // A source that waits (up to 10 s) for a flush after every 4 MiB: the flushes happen during the write.
      const paced = pacedRandomStream(size, 4 * MiB, () => st.lastFlushes);
      const stored = await st.put('a/flushed.bin', paced.stream);
      expect(stored.size).toBe(size);
      expect(paced.waitsMet()).toBe(6);
      expect(createHash('sha256').update(readFileSync(join(root, 'a/flushed.bin'))).digest('hex')).toBe(paced.sha256());
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

describe('local storage: overlapping writers of one key', () => {
  it('each writer renames a whole file of its own, and a killed run leftover is removed', async () => {
    const root = await mkdtemp(join(tmpdir(), 'onedump-local-overlap-'));
    try {
      const st = new LocalStorage(root);
      // Leftovers: the old shared name, and one of a process that no longer exists on this host.
      writeFileSync(join(root, 'x.sql.partial'), 'old');
      writeFileSync(join(root, `x.sql.${hostname()}.999999999-0badc0de.partial`), 'dead');
      writeFileSync(join(root, 'x.sql.other-host.1-0badc0de.partial'), 'remote writer');
      const a = randomBytes(3 * MiB);
      const b = randomBytes(3 * MiB);
      // A's source stalls half-way while B writes the same key from start to end, then A finishes.
      let releaseA!: () => void;
      const gate = new Promise<void>((r) => (releaseA = r));
      const slowA = Readable.from(
        (async function* () {
          yield a.subarray(0, MiB);
          await gate;
          yield a.subarray(MiB);
        })(),
      );
      const putA = st.put('x.sql', slowA);
      await new Promise((r) => setTimeout(r, 50));
      await st.put('x.sql', Readable.from([b]));
      expect(readFileSync(join(root, 'x.sql')).equals(b)).toBe(true);
      releaseA();
      await putA;
      // The last rename wins with a whole file, never a mix of both.
      expect(readFileSync(join(root, 'x.sql')).equals(a)).toBe(true);
      expect(readdirSync(root).sort()).toEqual(['x.sql', 'x.sql.other-host.1-0badc0de.partial']);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
