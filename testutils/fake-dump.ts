import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The line a real mysqldump ends with: stand-ins print it last, or the job fails as incomplete (src/dump/completeness.ts). */
export const DUMP_COMPLETED = 'echo "-- Dump completed"';

/**
 * Writes a stand-in for mysqldump (used as a job's driverpath): a shell script with the given body. The real
 * binary's arguments arrive as "$@" (the first is --defaults-extra-file=PATH with the credentials).
 */
export function fakeDumpBinary(body: string, dir = mkdtempSync(join(tmpdir(), 'onedump-fake-'))): string {
  const path = join(dir, `fake-dump-${Math.random().toString(36).slice(2, 8)}.sh`);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}
