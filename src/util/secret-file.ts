import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Credential files (mysql --defaults-extra-file, .pgpass): 0600 in a private 0700 folder, removed when the work
 * ends, fails, or the process exits or is interrupted.
 */
const live = new Set<string>();
let hooked = false;

function removeAll(): void {
  for (const dir of live) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      /* best effort at exit */
    }
  }
  live.clear();
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', removeAll);
}

/** Removes every credential file still present; the CLI calls this from its signal handlers. */
export function removeSecretFiles(): void {
  removeAll();
}

export function createSecretFile(name: string, contents: string): { path: string; remove: () => void } {
  hookExit();
  const dir = mkdtempSync(join(tmpdir(), 'onedump-cred-'));
  live.add(dir);
  const path = join(dir, name);
  writeFileSync(path, contents, { mode: 0o600 });
  return {
    path,
    remove: () => {
      rmSync(dir, { recursive: true, force: true });
      live.delete(dir);
    },
  };
}

export async function withSecretFile<T>(name: string, contents: string, fn: (path: string) => Promise<T>): Promise<T> {
  const f = createSecretFile(name, contents);
  try {
    return await fn(f.path);
  } finally {
    f.remove();
  }
}
