import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ROOT } from './cli.js';

/**
 * The shared fixtures from real MySQL 8.4 servers: ../shared/fixtures beside the checkout (as on the dev machines and
 * in CI), or ONEDUMP_SHARED_FIXTURES. Missing fixtures fail loudly.
 */
export function sharedFixtures(...parts: string[]): string {
  // Beside the checkout (CI, /work/main), or two levels up for git worktrees (/work/wt/NAME).
  const candidates = [resolve(ROOT, '..', 'shared', 'fixtures'), resolve(ROOT, '..', '..', 'shared', 'fixtures')];
  const base = process.env.ONEDUMP_SHARED_FIXTURES ?? candidates.find((c) => existsSync(c)) ?? (candidates[0] as string);
  if (!existsSync(base)) {
    throw new Error(`shared fixtures not found at ${base}: check out next to shared/ or set ONEDUMP_SHARED_FIXTURES`);
  }
  return join(base, ...parts);
}
