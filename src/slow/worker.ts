import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { readPart, type PartTask } from './part.js';

/** workerData key that marks a thread started to read slow-log parts (see pool.ts). */
export const SLOW_WORKER = 'onedumpSlowWorker';

export interface PartRequest {
  id: number;
  task: PartTask;
}

export type PartReply = { id: number; result: Awaited<ReturnType<typeof readPart>> } | { id: number; error: string };

/** True in a thread started by pool.ts; entry points must then not run the CLI. */
export function isSlowWorker(): boolean {
  return !isMainThread && (workerData as Record<string, unknown> | null)?.[SLOW_WORKER] === true;
}

if (isSlowWorker()) {
  const port = parentPort!;
  port.on('message', (request: PartRequest) => {
    readPart(request.task).then(
      (result) => port.postMessage({ id: request.id, result } satisfies PartReply),
      (err: unknown) => port.postMessage({ id: request.id, error: err instanceof Error ? err.message : String(err) } satisfies PartReply),
    );
  });
}
