import { statSync } from 'node:fs';
import { runCli, type CliResult } from './cli.js';

/** Runs the real CLI under the given umask (see runCli's `umask`). */
export function runCliWithUmask(umask: number, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return runCli(args, { ...opts, umask });
}

/** The permission bits of a path (what `stat -c %a` shows). */
export const modeOf = (path: string): number => statSync(path).mode & 0o777;

/** Octal text of permission bits, for readable assertion messages. */
export const octal = (mode: number): string => '0' + mode.toString(8).padStart(3, '0');
