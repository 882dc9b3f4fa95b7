import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** Parsed JSON body, when it is JSON. */
  json?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** The status the recorder answered with. */
  status: number;
  at: number;
}

export interface HttpRecorder {
  url: string;
  port: number;
  /** Every request received, failed ones included. */
  requests: RecordedRequest[];
  /** Requests that were answered 200 (the ones a real Slack would have posted). */
  delivered(path?: string): RecordedRequest[];
  /** Answer the next `n` requests (to `path`, or any path) with `status` (default 500). */
  failNext(n: number, status?: number, path?: string): void;
  /** Wait until `predicate` holds over the delivered requests. */
  waitFor(predicate: (delivered: RecordedRequest[]) => boolean, timeoutMs?: number, what?: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * A local HTTP server that records what notifiers post: Slack incoming webhooks (answers "ok" as Slack does) and
 * generic JSON webhooks. It can be told to fail the next N requests with 500 to exercise retries.
 */
export async function startHttpRecorder(): Promise<HttpRecorder> {
  const requests: RecordedRequest[] = [];
  const failures: Array<{ left: number; status: number; path?: string }> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const path = req.url ?? '/';
      const rule = failures.find((f) => f.left > 0 && (!f.path || f.path === path));
      const status = rule ? rule.status : 200;
      if (rule) rule.left--;
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      requests.push({ method: req.method ?? 'GET', path, headers: req.headers, body, json, status, at: Date.now() });
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status === 200 ? 'ok' : 'internal_error');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as AddressInfo).port;
  const delivered = (path?: string) => requests.filter((r) => r.status === 200 && (!path || r.path === path));
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    delivered,
    failNext: (n, status = 500, path) => failures.push({ left: n, status, path }),
    waitFor: async (predicate, timeoutMs = 30_000, what = 'the expected notifications') => {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(delivered())) {
        if (Date.now() > deadline) {
          throw new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; received: ${JSON.stringify(requests.map((r) => [r.path, r.status, r.json?.text ?? r.json?.type]))}`,
          );
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
