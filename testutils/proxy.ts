import { createServer, connect, type Socket, type Server } from 'node:net';
import { freePort } from './ports.js';

export interface CutProxyOptions {
  /**
   * Cumulative client→server byte offsets (over all connections) at which the connection carrying that byte is cut:
   * the bytes up to the offset are forwarded, then both sides are reset. Each offset cuts once.
   */
  cutAfter?: number[];
  /** Start with the port reserved but closed (connections refused) until accept(). */
  refusing?: boolean;
}

export interface CutProxy {
  readonly host: string;
  readonly port: number;
  /** Client→server bytes forwarded so far (all connections). */
  readonly bytesUp: number;
  readonly bytesDown: number;
  readonly connections: number;
  /** Offsets at which a cut happened. */
  readonly cuts: number[];
  /** Adds cut points (cumulative offsets, as in CutProxyOptions.cutAfter). */
  cutAt(...offsets: number[]): void;
  /** Cuts every open connection now. */
  cutAll(): void;
  /** Stops listening: new connections are refused (ECONNREFUSED) and open ones are cut. */
  refuse(): Promise<void>;
  /** Listens (again, on the same port) and forwards to the target. */
  accept(): Promise<void>;
  /** Stops forwarding client→server bytes (a stalled network) until resume(). */
  hold(): void;
  resume(): void;
  close(): Promise<void>;
}

/**
 * A loopback TCP proxy to `target` for fault injection: it cuts connections after given numbers of bytes, stalls
 * them, or refuses connections for a while, to test resume and retries.
 */
export async function startCutProxy(target: { host: string; port: number }, opts: CutProxyOptions = {}): Promise<CutProxy> {
  let pending = [...(opts.cutAfter ?? [])].sort((a, b) => a - b);
  let bytesUp = 0;
  let bytesDown = 0;
  let connections = 0;
  const cuts: number[] = [];
  const open = new Set<Socket>();
  let held = false;

  const cut = (client: Socket, upstream: Socket) => {
    client.resetAndDestroy();
    upstream.destroy();
  };

  const onConnection = (client: Socket) => {
    connections++;
    client.setNoDelay(true);
    const upstream = connect({ host: target.host, port: target.port });
    upstream.setNoDelay(true);
    open.add(client);
    (client as Socket & { _peer?: Socket })._peer = upstream;
    if (held) client.pause();
    client.on('data', (chunk: Buffer) => {
      const next = pending[0];
      if (next !== undefined && bytesUp + chunk.length >= next) {
        const keep = Math.max(0, next - bytesUp);
        pending = pending.slice(1);
        cuts.push(next);
        bytesUp += keep;
        if (keep > 0) upstream.write(chunk.subarray(0, keep), () => cut(client, upstream));
        else cut(client, upstream);
        client.pause();
        return;
      }
      bytesUp += chunk.length;
      if (!upstream.write(chunk)) {
        client.pause();
        upstream.once('drain', () => {
          if (!held) client.resume();
        });
      }
    });
    upstream.on('data', (chunk: Buffer) => {
      bytesDown += chunk.length;
      if (!client.write(chunk)) {
        upstream.pause();
        client.once('drain', () => upstream.resume());
      }
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    const done = () => {
      open.delete(client);
      if (!client.destroyed) client.destroy();
      if (!upstream.destroyed) upstream.destroy();
    };
    client.on('error', done);
    upstream.on('error', done);
    client.on('close', done);
    upstream.on('close', done);
  };
  let server: Server | undefined;
  let port = 0;
  const listen = async () => {
    if (server) return;
    const s = createServer(onConnection);
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    const addr = s.address();
    if (!addr || typeof addr !== 'object') throw new Error('the cut proxy did not get a port');
    port = addr.port;
    server = s;
  };
  const cutAll = () => {
    for (const c of open) {
      const peer = (c as Socket & { _peer?: Socket })._peer;
      if (peer) cut(c, peer);
      else c.resetAndDestroy();
    }
  };
  const stop = async () => {
    const s = server;
    server = undefined;
    cutAll();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  if (opts.refusing) port = await freePort();
  else await listen();
  return {
    host: '127.0.0.1',
    get port() {
      return port;
    },
    get bytesUp() {
      return bytesUp;
    },
    get bytesDown() {
      return bytesDown;
    },
    get connections() {
      return connections;
    },
    cuts,
    cutAt(...offsets: number[]) {
      pending = [...pending, ...offsets].sort((a, b) => a - b);
    },
    cutAll,
    refuse: stop,
    accept: listen,
    hold() {
      held = true;
      for (const c of open) c.pause();
    },
    resume() {
      held = false;
      for (const c of open) c.resume();
    },
    async close() {
      for (const c of open) c.destroy();
      const s = server;
      server = undefined;
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
}
