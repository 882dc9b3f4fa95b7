import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { readPart, type PartResult, type PartTask } from './part.js';
import { SlowLogError } from './source.js';
import { SLOW_WORKER, type PartReply, type PartRequest } from './worker.js';

/**
 * Threads used by default: one. On the 2-core machine of bench/slow.sh a second thread cut the wall
 * time by 15-30 % but raised peak RSS from ~130 MB to ~190-270 MB (each thread has its own heap and
 * its own lazily freed buffers), past the 200 MB budget; so more threads are asked for with --threads.
 */
export function defaultThreads(): number {
  return 1;
}

/** The most threads worth starting: one per core, at most 4 (past that the merge and I/O dominate). */
export function maxThreads(): number {
  return isSingleExecutable() ? 1 : Math.max(1, Math.min(availableParallelism(), 4));
}

/**
 * Reads the parts on `threads` worker threads (in this thread when threads is 1), handing each
 * result to `consume` as it arrives (not necessarily in task order). Tasks are handed out in order
 * as threads become free, so a slow part does not hold the others back.
 */
export async function readParts(
  tasks: PartTask[],
  threads: number,
  consume: (index: number, result: PartResult) => Promise<void>,
): Promise<void> {
  if (threads <= 1 || tasks.length <= 1) {
    for (const [i, task] of tasks.entries()) await consume(i, await readPart(task));
    return;
  }
  let next = 0;
  // This thread reads parts too: threads - 1 workers, and no idle thread holding a heap.
  const workers = Array.from({ length: Math.min(threads, tasks.length) - 1 }, () => startWorker());
  const run = async (read: (id: number) => Promise<PartResult>) => {
    for (let id = next++; id < tasks.length; id = next++) await consume(id, await read(id));
  };
  try {
    await Promise.all([run((id) => readPart(tasks[id]!)), ...workers.map((worker) => run((id) => ask(worker, { id, task: tasks[id]! })))]);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

function ask(worker: Worker, request: PartRequest): Promise<PartResult> {
  return new Promise((resolve, reject) => {
    const onMessage = (reply: PartReply) => {
      if (reply.id !== request.id) return;
      cleanup();
      if ('error' in reply) reject(new SlowLogError(reply.error));
      else resolve(reply.result);
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new SlowLogError(`A slow-log worker thread failed: ${err.message}`));
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new SlowLogError(`A slow-log worker thread stopped (exit code ${code}).`));
    };
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    worker.postMessage(request);
  });
}

/**
 * The worker's code is worker.ts, found three ways: compiled beside this file (npm run build), or
 * bundled beside the CLI bundle as worker.js/worker.mjs (bench/slow.sh builds both entry points);
 * as TypeScript in a checkout (tests, `tsx src/cli/main.ts`), loaded through tsx; or else the CLI
 * bundle itself, whose entry point (src/cli/onedump.ts) then runs no CLI (this works, but each
 * thread loads every dependency of the CLI).
 */
function startWorker(): Worker {
  const workerData = { [SLOW_WORKER]: true };
  const here = import.meta.url;
  for (const name of ['./worker.js', './worker.mjs']) {
    const compiled = new URL(name, here);
    if (existsSync(fileURLToPath(compiled))) return new Worker(compiled, { workerData, resourceLimits: { maxYoungGenerationSizeMb: 8 } });
  }
  const source = new URL('./worker.ts', here);
  if (existsSync(fileURLToPath(source))) {
    // tsx's ESM API (resolve gives its CommonJS build, which cannot register ESM hooks in a worker).
    const tsx = pathToFileURL(
      createRequire(here)
        .resolve('tsx/esm/api')
        .replace(/\.cjs$/, '.mjs'),
    ).href;
    const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(source.href)}); });`;
    return new Worker(code, { eval: true, workerData });
  }
  return new Worker(new URL(here), { workerData });
}

/** A Node single executable cannot start a worker from a file: it reads in one thread. */
function isSingleExecutable(): boolean {
  try {
    const sea = createRequire(import.meta.url)('node:sea') as { isSea?: () => boolean };
    return sea.isSea?.() === true;
  } catch {
    return false;
  }
}
