import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineSyncScenario } from './scenario.js';

defineSyncScenario('local folder', async () => {
  const root = mkdtempSync(join(tmpdir(), 'onedump-sync-dest-'));
  return {
    url: (sub) => join(root, sub) + '/',
    stop: async () => rmSync(root, { recursive: true, force: true }),
  };
});
