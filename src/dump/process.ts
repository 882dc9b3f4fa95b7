import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import { OnedumpError, PermanentError } from '../util/errors.js';
import { redactText } from '../util/redact.js';

export interface RunDumpProcessOptions {
  /** Label for messages, e.g. "mysqldump". */
  label: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  signal: AbortSignal;
  out: Writable;
}

const STDERR_LIMIT = 16 * 1024;
const GATHER_BYTES = 1 << 20;

/**
 * Runs a dump program and streams its stdout into `out` with backpressure (the child blocks when we are slow).
 * A non-zero exit fails with the program's stderr. The child is killed when `signal` aborts.
 */
export async function runDumpProcess(o: RunDumpProcessOptions): Promise<void> {
  const child = spawn(o.command, o.args, { env: o.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    if (stderr.length < STDERR_LIMIT) stderr += s.slice(0, STDERR_LIMIT - stderr.length);
  });
  // Aborted: SIGTERM, SIGKILL if it is still there after 5 s, and our ends of its pipes closed, so that a grandchild
  // still holding them (a wrapper script's subprocess) cannot keep the run waiting.
  let killTimer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    child.kill('SIGTERM');
    child.stdout.destroy();
    child.stderr.destroy();
    killTimer = setTimeout(() => child.kill('SIGKILL'), 5000);
    killTimer.unref();
  };
  o.signal.addEventListener('abort', onAbort, { once: true });
  try {
    await new Promise<void>((resolve, reject) => {
      let spawnError: Error | undefined;
      child.once('error', (err: NodeJS.ErrnoException) => {
        spawnError =
          err.code === 'ENOENT'
            ? new PermanentError(`${o.label} was not found at "${o.command}"; install it or set driverpath to its location.`)
            : err.code === 'EACCES'
              ? new PermanentError(`${o.label} at "${o.command}" is not executable.`)
              : err;
        reject(spawnError);
      });
      const onOutError = (err: Error) => {
        child.kill('SIGTERM');
        reject(err);
      };
      o.out.once('error', onOutError);
      // A pipe gives at most 64 KiB per read; passed on one by one, each piece costs a trip through every stream of
      // the pipeline and a write of its own at each destination (1.35 GB: ~20,000 of them, ~1.8 s of the main
      // thread in a profile). They are gathered into pieces of about 1 MiB first, for one copy.
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const flush = () => {
        if (pendingBytes === 0) return;
        const piece = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
        // A destination that already failed (the job is being torn down) gets nothing more.
        if (o.out.destroyed || o.out.writableEnded) return;
        if (!o.out.write(piece)) {
          child.stdout.pause();
          o.out.once('drain', () => child.stdout.resume());
        }
      };
      child.stdout.on('data', (chunk: Buffer) => {
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes >= GATHER_BYTES) flush();
      });
      child.stdout.once('end', flush);
      child.once('close', (code, sig) => {
        o.out.off('error', onOutError);
        if (spawnError) return;
        if (o.signal.aborted) return reject(o.signal.reason ?? new OnedumpError(`${o.label} was aborted.`));
        if (code === 0) return resolve();
        const detail = redactText(stderr.trim().split('\n').slice(-5).join(' ').trim());
        reject(
          new OnedumpError(
            `${o.label} exited with ${code === null ? `signal ${sig}` : `code ${code}`}${detail ? `: ${detail}` : ' and printed nothing on stderr'}`,
          ),
        );
      });
    });
  } finally {
    o.signal.removeEventListener('abort', onAbort);
    clearTimeout(killTimer);
  }
}
