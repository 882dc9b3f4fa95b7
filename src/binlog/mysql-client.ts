import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { ParsedDsn } from '../config/dsn.js';
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

/** Quotes an option-file value: double quotes, with backslash and quote escaped, so any password survives. */
function optionValue(v: string): string {
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/**
 * A [client] option file for mysql/mariadb (--defaults-extra-file), so the password never appears in argv or the
 * environment. Write it with createSecretFile (0600, removed even on failure).
 */
export function clientOptionFile(dsn: ParsedDsn): string {
  const lines = ['[client]'];
  if (dsn.user) lines.push(`user=${optionValue(dsn.user)}`);
  if (dsn.password !== undefined) lines.push(`password=${optionValue(dsn.password)}`);
  if (dsn.socket) {
    lines.push(`socket=${optionValue(dsn.socket)}`, 'protocol=SOCKET');
  } else {
    // "localhost" would make the client use its default socket; the DSN meant TCP.
    lines.push(`host=${optionValue(dsn.host ?? '127.0.0.1')}`, `port=${dsn.port ?? 3306}`, 'protocol=TCP');
  }
  return `${lines.join('\n')}\n`;
}
