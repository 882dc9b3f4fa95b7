import { connect, createServer, type Server, type Socket } from 'node:net';
import { freePort } from './ports.js';

export interface TcpProxy {
  port: number;
  /** Stop listening: new connections are refused (ECONNREFUSED) and open ones are cut. */
  refuse(): Promise<void>;
  /** Listen again and forward to the target. */
  accept(): Promise<void>;
  /** Connections forwarded so far. */
  connections: number;
  close(): Promise<void>;
}

/** A loopback TCP proxy in front of a server, for fault injection: it can refuse connections and then recover. */
export async function startTcpProxy(targetHost: string, targetPort: number, opts: { refusing?: boolean } = {}): Promise<TcpProxy> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const proxy: TcpProxy = {
    port,
    connections: 0,
    refuse: async () => {
      const s = server;
      server = undefined;
      for (const sock of sockets) sock.destroy();
      sockets.clear();
      if (s) await new Promise<void>((r) => s.close(() => r()));
    },
    accept: async () => {
      if (server) return;
      const s = createServer((client) => {
        proxy.connections++;
        const upstream = connect(targetPort, targetHost);
        sockets.add(client);
        sockets.add(upstream);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, '127.0.0.1', () => resolve());
      });
      server = s;
    },
    close: () => proxy.refuse(),
  };
  if (!opts.refusing) await proxy.accept();
  return proxy;
}
