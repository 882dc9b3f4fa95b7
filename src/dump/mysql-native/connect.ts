import type { Connection, ConnectionOptions } from 'mysql2';
import type { ParsedDsn } from '../../config/dsn.js';
import type { JobConfig } from '../../config/schema.js';
import { connectSsh, sshTarget, type SshSession } from '../../ssh/client.js';
import { OnedumpError, PermanentError, TransientError, isTransient } from '../../util/errors.js';
import type { Logger } from '../../util/logger.js';

export interface NativeConnection {
  conn: Connection;
  ssh?: SshSession;
  close(): Promise<void>;
}

function where(dsn: ParsedDsn, viaSsh: boolean): string {
  const addr = dsn.socket ? `unix(${dsn.socket})` : `${dsn.host}:${dsn.port}`;
  return viaSsh ? `${addr} (through SSH)` : addr;
}

/** One clear sentence for a MySQL error; auth and unknown-database are permanent, network faults transient. */
export function mysqlError(err: unknown, job: string, dsn: ParsedDsn, viaSsh = false): OnedumpError {
  if (err instanceof OnedumpError) return err;
  const e = err as { errno?: number; code?: string; message?: string; sqlMessage?: string };
  const at = where(dsn, viaSsh);
  const msg = e.sqlMessage ?? e.message ?? String(err);
  switch (e.errno) {
    case 1045:
      return new PermanentError(`MySQL at ${at} refused user "${dsn.user}" (access denied); check the user and password in dbdsn.`, { cause: err });
    case 1044:
    case 1142:
    case 1227:
      return new PermanentError(`the MySQL user "${dsn.user}" lacks a privilege the dump needs: ${msg}.`, { cause: err });
    case 1049:
      return new PermanentError(`database "${dsn.database}" does not exist on ${at}; check the database name in dbdsn.`, { cause: err });
  }
  if (e.code === 'ENOTFOUND') return new TransientError(`the MySQL host "${dsn.host}" does not resolve; check the host in dbdsn.`, { cause: err });
  if (e.code && ['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET', 'ENOENT'].includes(e.code)) {
    return new TransientError(`cannot connect to MySQL at ${at} (${e.code}); check the host and port in dbdsn and that the server is running.`, { cause: err });
  }
  const text = `the native mysql dump failed: ${msg.replace(/\.$/, '')}.`;
  return isTransient(err) ? new TransientError(text, { cause: err }) : new PermanentError(text, { cause: err });
}

/** Connects mysql2 directly or through an SSH tunnel (direct-tcpip from the SSH host to the DSN's host:port). */
export async function connectNative(dsn: ParsedDsn, job: JobConfig, log: Logger, signal: AbortSignal): Promise<NativeConnection> {
  const base: ConnectionOptions = {
    user: dsn.user || undefined,
    password: dsn.password,
    database: dsn.database,
    charset: 'utf8mb4_general_ci',
    timezone: 'Z',
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    multipleStatements: false,
    connectTimeout: 20_000,
    flags: ['-FOUND_ROWS'],
  };
  const tls = dsn.params.tls ?? dsn.params.ssl;
  if (tls && tls !== 'false' && tls !== 'disabled') base.ssl = tls === 'skip-verify' || tls === 'preferred' ? { rejectUnauthorized: false } : {};
  let ssh: SshSession | undefined;
  if (job.sshhost) {
    ssh = await connectSsh(sshTarget(job, ''), { signal, onNotice: (m) => log.warn(m) });
    if (dsn.socket) {
      await ssh.close();
      throw new PermanentError(`a unix-socket DSN cannot be reached through sshhost; use tcp(127.0.0.1:3306) as seen from the SSH host.`);
    }
    const stream = await ssh.forward(dsn.host ?? '127.0.0.1', dsn.port ?? 3306).catch(async (err) => {
      await ssh?.close();
      throw err;
    });
    base.stream = stream as unknown as ConnectionOptions['stream'];
  } else if (dsn.socket) base.socketPath = dsn.socket;
  else {
    base.host = dsn.host;
    base.port = dsn.port;
  }
  // Loaded on first use: commands that never talk to MySQL do not pay for the driver at start-up.
  const { default: mysql } = await import('mysql2');
  const conn = mysql.createConnection(base);
  try {
    await new Promise<void>((resolve, reject) => conn.connect((err) => (err ? reject(err) : resolve())));
  } catch (err) {
    conn.destroy();
    await ssh?.close();
    throw mysqlError(err, job.name, dsn, Boolean(ssh));
  }
  // Large tables over slow destinations pause reading for a while; do not let the server drop us meanwhile.
  conn.on('error', () => {
    /* surfaced by the running query */
  });
  return {
    conn,
    ssh,
    close: async () => {
      // end() never calls back on a connection that already failed: do not let cleanup hang on it.
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 2000);
        conn.end(() => {
          clearTimeout(t);
          resolve();
        });
      });
      conn.destroy();
      await ssh?.close();
    },
  };
}
