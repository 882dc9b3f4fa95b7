import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, chownSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { freePort, waitFor } from './ports.js';
import { requireBinary } from './binaries.js';

export interface MariaDBInstance {
  host: string;
  port: number;
  socket: string;
  user: string;
  password: string;
  datadir: string;
  /** Binlog basename (directory + prefix). */
  binlogBase: string;
  /** `root:PASS@tcp(127.0.0.1:PORT)/DB` */
  dsn(db?: string): string;
  connect(db?: string): Promise<mysql.Connection>;
  /** Stops the server (SIGTERM) and starts it again on the same datadir, port and arguments. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface MariaDBOptions {
  /** Extra mariadbd arguments, e.g. ['--max-binlog-size=4096']. */
  args?: string[];
  password?: string;
}

/**
 * Starts a throwaway MariaDB server (own datadir, port and socket, binlog on, ROW format) from the installed
 * binaries. Fails loudly when they are missing.
 */
export async function startMariaDB(opts: MariaDBOptions = {}): Promise<MariaDBInstance> {
  const installDb = requireBinary('mariadb-install-db');
  const mariadbd = requireBinary('mariadbd');
  const base = mkdtempSync(join(tmpdir(), 'onedump-mariadb-'));
  const datadir = join(base, 'data');
  const socket = join(base, 'mysqld.sock');
  const binlogBase = join(base, 'binlog', 'mysql-bin');
  const runAsRoot = userInfo().uid === 0;
  // A private tmpdir: concurrent bootstraps sharing /tmp collide on their #sql-temptable files and abort.
  const tmp = join(base, 'tmp');
  execFileSync('mkdir', ['-p', datadir, join(base, 'binlog'), tmp]);
  if (runAsRoot) {
    const ids = execFileSync('id', ['-u', 'mysql']).toString().trim();
    const gid = execFileSync('id', ['-g', 'mysql']).toString().trim();
    for (const p of [base, datadir, join(base, 'binlog'), tmp]) chownSync(p, Number(ids), Number(gid));
  }
  execFileSync(
    installDb,
    [
      '--no-defaults',
      `--datadir=${datadir}`,
      `--tmpdir=${tmp}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      ...(runAsRoot ? ['--user=mysql'] : []),
    ],
    { stdio: 'pipe' },
  );
  const port = await freePort();
  const errLog = join(base, 'error.log');
  const password = opts.password ?? 'onedump-test-pw';
  let server = spawnServer(mariadbd, [
    '--no-defaults',
    `--datadir=${datadir}`,
    `--socket=${socket}`,
    `--tmpdir=${tmp}`,
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    `--log-bin=${binlogBase}`,
    '--server-id=1',
    '--binlog-format=ROW',
    `--log-error=${errLog}`,
    `--pid-file=${join(base, 'mysqld.pid')}`,
    '--skip-name-resolve',
    '--innodb-buffer-pool-size=64M',
    '--innodb-log-file-size=48M',
    '--max-connections=200',
    // Fault tests cut handshakes on purpose; by default 100 of them from 127.0.0.1 would block the host for every test.
    '--max-connect-errors=100000000',
    ...(runAsRoot ? ['--user=mysql'] : []),
    ...(opts.args ?? []),
  ]);
  const serverArgs = server.args;
  const exitedEarly = () => {
    const log = existsSync(errLog) ? readFileSync(errLog, 'utf8').slice(-2000) : '';
    return Object.assign(new Error(`mariadbd exited during start-up: ${log}`), { fatal: true });
  };
  await waitFor(
    'MariaDB',
    async () => {
      if (server.exited()) throw exitedEarly();
      const c = await mysql.createConnection({ socketPath: socket, user: 'root' });
      await c.query(`ALTER USER 'root'@'localhost' IDENTIFIED BY ${mysql.escape(password)}`);
      await c.query(`CREATE OR REPLACE USER 'root'@'127.0.0.1' IDENTIFIED BY ${mysql.escape(password)}`);
      await c.query(`GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION`);
      await c.end();
    },
    60_000,
  );
  const inst: MariaDBInstance = {
    host: '127.0.0.1',
    port,
    socket,
    user: 'root',
    password,
    datadir,
    binlogBase,
    dsn: (db = '') => `root:${password}@tcp(127.0.0.1:${port})/${db}`,
    connect: (db?: string) =>
      mysql.createConnection({
        host: '127.0.0.1',
        port,
        user: 'root',
        password,
        database: db,
        multipleStatements: true,
      }),
    restart: async () => {
      await server.stop();
      server = spawnServer(mariadbd, serverArgs);
      await waitFor(
        'MariaDB (restart)',
        async () => {
          if (server.exited()) throw exitedEarly();
          const c = await mysql.createConnection({ socketPath: socket, user: 'root', password });
          await c.end();
        },
        60_000,
      );
    },
    stop: async () => {
      await server.stop();
      rmSync(base, { recursive: true, force: true });
    },
  };
  return inst;
}

interface ServerProcess {
  args: string[];
  exited(): boolean;
  stop(): Promise<void>;
}

function spawnServer(mariadbd: string, args: string[]): ServerProcess {
  const child: ChildProcess = spawn(mariadbd, args, { stdio: 'ignore', detached: false });
  let exited = false;
  child.on('exit', () => (exited = true));
  return {
    args,
    exited: () => exited,
    stop: async () => {
      if (exited) return;
      child.kill('SIGTERM');
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          child.kill('SIGKILL');
          resolve();
        }, 20_000);
        child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
      });
    },
  };
}

/**
 * MariaDB appends a Binlog_checkpoint event to the new binlog in the background after FLUSH BINARY LOGS (once the
 * previous file's transactions are durable): waits until SHOW BINARY LOGS stops changing, so that a test reads back
 * what a sync just sent.
 */
export async function settleBinlogs(connect: () => Promise<mysql.Connection>): Promise<void> {
  const c = await connect();
  try {
    let last = '';
    for (let i = 0; i < 50; i++) {
      const [rows] = await c.query('SHOW BINARY LOGS');
      const now = JSON.stringify(rows);
      if (now === last) return;
      last = now;
      await new Promise((r) => setTimeout(r, 300));
    }
  } finally {
    await c.end();
  }
}
