import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { readPart, type PartResult, type PartTask } from './part.js';
import { SlowLogError } from './source.js';
import { SLOW_WORKER, type PartReply, type PartRequest } from './worker.js';

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
  workerHeapMb = WORKER_OLD_SPACE_MB,
): Promise<void> {
  if (threads <= 1 || tasks.length <= 1) {
    for (const [i, task] of tasks.entries()) await consume(i, await readPart(task));
    return;
  }
  let next = 0;
  // This thread reads parts too: threads - 1 workers, and no idle thread holding a heap.
  const workers = Array.from({ length: Math.min(threads, tasks.length) - 1 }, () => startWorker(workerHeapMb));
  const local = async () => {
    for (let id = next++; id < tasks.length; id = next++) await consume(id, await readPart(tasks[id]!));
  };
  const remote = async (worker: Worker) => {
    try {
      for (let id = next++; id < tasks.length; id = next++) {
        let result: PartResult;
        try {
          result = await ask(worker, { id, task: tasks[id]! });
        } catch (err) {
          // A part too big for a worker's bounded heap (a statement of tens of megabytes) is read
          // here, where the heap has no such bound; the worker is gone, this thread takes its share.
          if (!(err instanceof WorkerOutOfMemory)) throw err;
          await consume(id, await readPart(tasks[id]!));
          await local();
          return;
        }
        await consume(id, result);
      }
    } finally {
      // Ended as soon as it has no more work: its heap is gone before the report is built.
      await worker.terminate();
    }
  };
  try {
    await Promise.all([local(), ...workers.map(remote)]);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

class WorkerOutOfMemory extends Error {}

/**
 * A worker's heap bound (MiB). V8 starts a heap's first full collection at a size derived from its
 * bound (and from --initial-old-space-size, which the single executable and the Docker image set to
 * 96 MB), so a bound keeps a worker's garbage from piling up beside this thread's: on the varied
 * bench log two threads peaked at 205-215 MB RSS with 96-128, ~200 with 64, 226-266 with none. The
 * groups of a part need much less (~15 MB for the 4,300 groups of half that 100 MB log); a part
 * that does not fit (a statement of tens of megabytes, or hundreds of thousands of groups) is read
 * again in this thread.
 */
const WORKER_OLD_SPACE_MB = 64;

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
      if ((err as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY') reject(new WorkerOutOfMemory(err.message));
      else reject(new SlowLogError(`A slow-log worker thread failed: ${err.message}`));
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
function startWorker(heapMb: number): Worker {
  const workerData = { [SLOW_WORKER]: true };
  const resourceLimits = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: heapMb };
  const here = import.meta.url;
  for (const name of ['./worker.js', './worker.mjs']) {
    const compiled = new URL(name, here);
    if (existsSync(fileURLToPath(compiled))) return new Worker(compiled, { workerData, resourceLimits });
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
    return new Worker(code, { eval: true, workerData, resourceLimits });
  }
  return new Worker(new URL(here), { workerData, resourceLimits });
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
