import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Daemon } from './daemon.js';
import { UsageError } from '../util/errors.js';
import { redactValue } from '../util/redact.js';

/**
 * The daemon's health endpoints: GET /healthz (JSON: per job the last run, next run and counters; 503 while
 * stopping) and GET /metrics (Prometheus text format).
 */
export async function startHealthServer(
  daemon: Daemon,
  port: number,
  host = '127.0.0.1',
): Promise<{ port: number; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      const h = redactValue(daemon.health());
      res.writeHead(h.status === 'running' ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify(h, null, 2) + '\n');
      return;
    }
    if (path === '/metrics') {
      daemon.metrics.text().then(
        (text) => {
          res.writeHead(200, { 'content-type': daemon.metrics.contentType });
          res.end(text);
        },
        (err: Error) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`metrics failed: ${err.message}\n`);
        },
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found: try /healthz or /metrics\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new UsageError(`--health-port ${port}: the port is already in use on ${host}; choose another.`)
          : new UsageError(`--health-port ${port}: cannot listen on ${host} (${err.code ?? err.message}).`),
      ),
    );
    server.listen(port, host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
