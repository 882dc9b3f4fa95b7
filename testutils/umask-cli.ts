import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { CLI_ENTRY, ROOT, type CliResult } from './cli.js';

/**
 * Runs the real CLI as runCli does, but under the given umask, set by a shell the way a login or a cron job sets it
 * (`sh -c 'umask 027; exec node …'`), so the process starts with it rather than changing it itself.
 */
export function runCliWithUmask(umask: number, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  const u = umask.toString(8).padStart(3, '0');
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', `umask ${u} && exec "$@"`, 'sh', process.execPath, '--import', 'tsx', CLI_ENTRY, ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, pid: child.pid ?? 0 });
    });
  });
}

/** The permission bits of a path (what `stat -c %a` shows). */
export const modeOf = (path: string): number => statSync(path).mode & 0o777;

/** Octal text of permission bits, for readable assertion messages. */
export const octal = (mode: number): string => '0' + mode.toString(8).padStart(3, '0');
