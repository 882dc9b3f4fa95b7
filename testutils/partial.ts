import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The path of the file local storage is writing for `name` in `dir` (NAME.HOST.PID-RANDOM.partial, src/storage/local.ts),
 * or undefined while there is none.
 */
export function partialOf(dir: string, name: string): string | undefined {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return undefined;
  }
  const own = names.find((n) => n.startsWith(`${name}.`) && /\.\d+-[0-9a-f]{8}\.partial$/.test(n));
  return own === undefined ? undefined : join(dir, own);
}
