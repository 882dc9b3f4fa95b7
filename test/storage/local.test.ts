import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storageFromUrl } from '../../src/storage/registry.js';
import { silentLogger } from '../../src/util/logger.js';
import { storageConformance } from './conformance.js';

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
