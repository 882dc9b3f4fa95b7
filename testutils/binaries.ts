import { accessSync, constants, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Finds an executable on PATH (plus sbin and PostgreSQL's versioned bin folders) or throws a loud error. */
export function requireBinary(name: string, extraDirs: string[] = []): string {
  const pgDirs = (() => {
    try {
      return readdirSync('/usr/lib/postgresql')
        .sort()
        .reverse()
        .map((v) => `/usr/lib/postgresql/${v}/bin`);
    } catch {
      return [];
    }
  })();
  const dirs = [...extraDirs, ...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', ...pgDirs];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      /* keep looking */
    }
  }
  throw new Error(
    `test prerequisite missing: "${name}" is not installed (looked in ${dirs.filter(Boolean).join(', ')}); run .ci/run or apt-get install the package that provides it`,
  );
}
