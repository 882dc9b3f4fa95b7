import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const CLI_ENTRY = join(ROOT, 'src', 'cli', 'onedump.ts');
/** tsx's loader by its path, so that a CLI run from any working directory (cwd) finds it. */
const TSX = pathToFileURL(join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  pid: number;
}

/** Runs the real CLI in a child process (TypeScript through tsx), as a user would. */
export function runCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string; timeoutMs?: number; umask?: number } = {},
): Promise<CliResult> {
  const node = [process.execPath, '--import', TSX, CLI_ENTRY, ...args];
  // With a umask, a shell sets it the way a login or a cron job does (`sh -c 'umask 027; exec node …'`), so the
  // process starts with it rather than changing it itself.
  const [cmd, ...argv] =
    opts.umask === undefined ? node : ['sh', '-c', `umask ${opts.umask.toString(8).padStart(3, '0')} && exec "$@"`, 'sh', ...node];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, argv, {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, NO_COLOR: '1', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
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
    child.stdin.end(opts.input ?? '');
  });
}

/** Synchronous form of runCli for tests that prefer it; env values set to undefined are removed. */
export function runCliSync(args: string[], env: Record<string, string | undefined> = {}): { code: number | null; stdout: string; stderr: string } {
  const merged: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete merged[k];
  const r = spawnSync(process.execPath, ['--import', TSX, CLI_ENTRY, ...args], { cwd: ROOT, env: merged, encoding: 'utf8', maxBuffer: 1 << 28 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.trim() };
}
