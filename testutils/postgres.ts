import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, chownSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort, waitFor } from './ports.js';
import { requireBinary } from './binaries.js';

export interface PostgresInstance {
  host: string;
  port: number;
  user: string;
  password: string;
  datadir: string;
  /** `postgres://postgres:PASS@127.0.0.1:PORT/DB` */
  dsn(db?: string): string;
  connect(db?: string): Promise<pg.Client>;
  stop(): Promise<void>;
}

/** Starts a throwaway PostgreSQL cluster (own datadir and port, password auth on TCP) from the installed binaries. */
export async function startPostgres(): Promise<PostgresInstance> {
  const initdb = requireBinary('initdb');
  const postgres = requireBinary('postgres');
  const base = mkdtempSync(join(tmpdir(), 'onedump-pg-'));
  const datadir = join(base, 'data');
  const runAsRoot = userInfo().uid === 0;
  const asPg = (cmd: string, args: string[]): [string, string[]] =>
    runAsRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  if (runAsRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(base, uid, gid);
  }
  const password = 'onedump-pg-pw';
  const pwfile = join(base, 'pw');
  execFileSync('sh', ['-c', `umask 077; printf '%s' "$0" > "$1"`, password, pwfile]);
  if (runAsRoot) execFileSync('chown', ['postgres', pwfile]);
  const [c1, a1] = asPg(initdb, ['-D', datadir, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--locale=C.UTF-8']);
  execFileSync(c1, a1, { stdio: 'pipe' });
  rmSync(pwfile);
  const port = await freePort();
  const logFile = join(base, 'postgres.log');
  const [c2, a2] = asPg('sh', [
    '-c',
    `exec "$0" "$@" >"${logFile}" 2>&1`,
    postgres,
    '-D',
    datadir,
    '-p',
    String(port),
    '-k',
    base,
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'fsync=off',
    '-c',
    'max_connections=100',
  ]);
  const child: ChildProcess = spawn(c2, a2, { stdio: 'ignore' });
  let exited = false;
  child.on('exit', () => (exited = true));
  const connect = async (db = 'postgres') => {
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: db });
    await client.connect();
    return client;
  };
  await waitFor('PostgreSQL', async () => {
    if (exited) {
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-2000) : '';
      throw new Error(`postgres exited during start-up: ${log}`);
    }
    const c = await connect();
    await c.end();
  });
  return {
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password,
    datadir,
    dsn: (db = 'postgres') => `postgres://postgres:${password}@127.0.0.1:${port}/${db}`,
    connect,
    stop: async () => {
      if (!exited) {
        // postgres is a grandchild through runuser/sh; signal the postmaster by its pid file.
        try {
          const pid = Number(readFileSync(join(datadir, 'postmaster.pid'), 'utf8').split('\n')[0]);
          process.kill(pid, 'SIGINT');
        } catch {
          child.kill('SIGTERM');
        }
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 20_000);
          child.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      rmSync(base, { recursive: true, force: true });
    },
  };
}
