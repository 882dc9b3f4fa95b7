import { createServer, connect, type Socket, type Server } from 'node:net';

export interface CutProxyOptions {
  /**
   * Cumulative client→server byte offsets (over all connections) at which the connection carrying that byte is cut:
   * the bytes up to the offset are forwarded, then both sides are reset. Each offset cuts once.
   */
  cutAfter?: number[];
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
  /** Stops forwarding client→server bytes (a stalled network) until resume(). */
  hold(): void;
  resume(): void;
  close(): Promise<void>;
}

/** A loopback TCP proxy to `target` that cuts connections after given numbers of bytes, to test resume and retries. */
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

  const server: Server = createServer((client) => {
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
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  if (!addr || typeof addr !== 'object') throw new Error('the cut proxy did not get a port');
  return {
    host: '127.0.0.1',
    port: addr.port,
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
    cutAll() {
      for (const c of open) {
        const peer = (c as Socket & { _peer?: Socket })._peer;
        if (peer) cut(c, peer);
        else c.resetAndDestroy();
      }
    },
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
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
