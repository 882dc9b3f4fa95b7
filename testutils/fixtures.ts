import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cli.js';

/**
 * Data written by real MySQL 8.4 servers (binlogs, a --source-data=2 dump, slow logs), copied into the repository from
 * the steering repo's shared/fixtures so that a plain clone runs the tests (see test/fixtures/REAL-SERVERS.md).
 * Missing fixtures fail loudly.
 */
export function sharedFixtures(...parts: string[]): string {
  const base = join(ROOT, 'test', 'fixtures');
  const path = join(base, ...parts);
  if (!existsSync(path)) throw new Error(`test fixture not found: ${path}`);
  return path;
}
