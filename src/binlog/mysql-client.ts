import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { UsageError } from '../util/errors.js';

/** Finds a program: an explicit path (must be executable) or the first of `names` on PATH. */
export function findProgram(explicit: string | undefined, names: string[], what: string, flag: string): string {
  const candidates = explicit ? [explicit] : names;
  for (const name of candidates) {
    if (name.includes('/')) {
      try {
        accessSync(name, constants.X_OK);
        return name;
      } catch {
        continue;
      }
    }
    for (const dir of (process.env.PATH ?? '').split(delimiter)) {
      if (!dir) continue;
      try {
        accessSync(join(dir, name), constants.X_OK);
        return join(dir, name);
      } catch {
        /* keep looking */
      }
    }
  }
  throw new UsageError(
    explicit
      ? `${what} was not found at ${explicit} (or is not executable); check ${flag}.`
      : `${what} (${names.join(' or ')}) was not found on PATH; install the MariaDB or MySQL client programs or give its path with ${flag}.`,
  );
}
