import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { connect as netConnect } from 'node:net';
import { PermanentError } from '../util/errors.js';
import { findBinary } from './restore.js';
import type { ParsedDsn } from '../config/dsn.js';

/**
 * A throwaway database server for restore drills (`onedump verify`): started from the installed mariadbd/mysqld or
 * postgres binaries with its own datadir and socket in a private temp folder, no TCP port at all, and removed with
 * everything in it afterwards. As root the server runs as the mysql / postgres account (neither runs as root).
 */
export interface ScratchServer {
  engine: 'mysql' | 'postgres';
  /** How to reach it: a socket DSN with no password. */
  dsn: ParsedDsn;
  /** The server binary's version line, for the report. */
  version: string;
  stop(): Promise<void>;
}

const SBIN = ['/usr/sbin', '/usr/local/sbin', '/usr/local/mysql/bin'];

function find(names: string[], extraDirs: string[] = []): string | undefined {
  for (const d of extraDirs) for (const n of names) if (existsSync(join(d, n))) return join(d, n);
  return findBinary(names.map((n) => n)) ?? undefined;
}

function pgBinDirs(): string[] {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a))
    .map((v) => join(root, v, 'bin'));
}

function account(name: string): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  try {
    return { uid: Number(execFileSync('id', ['-u', name]).toString().trim()), gid: Number(execFileSync('id', ['-g', name]).toString().trim()) };
  } catch {
    throw new PermanentError(`a scratch ${name === 'mysql' ? 'MariaDB/MySQL' : 'PostgreSQL'} server cannot run as root and there is no "${name}" account to run it as; give verify a server (verify: { dsn: … }).`);
  }
}

async function waitForSocket(path: string, child: ChildProcess, log: () => string, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new PermanentError(`the scratch ${what} server exited while starting: ${log().trim().split('\n').slice(-3).join(' ')}`);
    if (existsSync(path)) {
      const ok = await new Promise<boolean>((resolve) => {
        const s = netConnect(path);
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      });
      if (ok) return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new PermanentError(`the scratch ${what} server did not start within ${timeoutMs / 1000} s: ${log().trim().split('\n').slice(-3).join(' ')}`);
}

function stopper(child: ChildProcess, base: string, signal: NodeJS.Signals): () => Promise<void> {
  return async () => {
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          child.kill('SIGKILL');
        }, 30_000);
        child.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        child.kill(signal);
      });
    }
    rmSync(base, { recursive: true, force: true });
  };
}

/** A throwaway MariaDB (or MySQL) server on a private socket. */
export async function startScratchMysql(): Promise<ScratchServer> {
  const server = find(['mariadbd', 'mysqld'], SBIN);
  if (!server) throw new PermanentError('no MariaDB or MySQL server binary (mariadbd, mysqld) is installed for a scratch restore; install one or give verify a server (verify: { dsn: … }).');
  const mariadb = /mariadbd$/.test(server) || /MariaDB/i.test(execFileSync(server, ['--version']).toString());
  const version = execFileSync(server, ['--version']).toString().trim();
  const owner = account('mysql');
  const base = mkdtempSync(join(tmpdir(), 'onedump-scratch-mysql-'));
  const datadir = join(base, 'data');
  const tmp = join(base, 'tmp');
  const socket = join(base, 'mysqld.sock');
  const errLog = join(base, 'error.log');
  try {
    execFileSync('mkdir', ['-m', '0700', '-p', datadir, tmp]);
    if (owner) for (const p of [base, datadir, tmp]) chownSync(p, owner.uid, owner.gid);
    const userArg = owner ? ['--user=mysql'] : [];
    if (mariadb) {
      const installDb = find(['mariadb-install-db', 'mysql_install_db'], ['/usr/bin', ...SBIN]);
      if (!installDb) throw new PermanentError('mariadb-install-db is not installed: it is needed to set up a scratch MariaDB server.');
      execFileSync(installDb, ['--no-defaults', `--datadir=${datadir}`, `--tmpdir=${tmp}`, '--auth-root-authentication-method=normal', '--skip-test-db', ...userArg], { stdio: 'pipe' });
    } else {
      execFileSync(server, ['--no-defaults', '--initialize-insecure', `--datadir=${datadir}`, ...userArg], { stdio: 'pipe' });
    }
    const child = spawn(
      server,
      [
        '--no-defaults',
        `--datadir=${datadir}`,
        `--socket=${socket}`,
        `--tmpdir=${tmp}`,
        '--skip-networking',
        `--log-error=${errLog}`,
        `--pid-file=${join(base, 'mysqld.pid')}`,
        '--skip-log-bin',
        '--innodb-buffer-pool-size=128M',
        // A drill restores, counts and re-dumps; durability of the scratch copy does not matter.
        '--innodb-flush-log-at-trx-commit=0',
        '--innodb-doublewrite=0',
        '--max-allowed-packet=1G',
        ...userArg,
      ],
      { stdio: 'ignore' },
    );
    await waitForSocket(socket, child, () => (existsSync(errLog) ? readFileSync(errLog, 'utf8') : ''), 'MariaDB/MySQL');
    return {
      engine: 'mysql',
      dsn: { engine: 'mysql', user: 'root', socket, params: {} },
      version,
      stop: stopper(child, base, 'SIGTERM'),
    };
  } catch (err) {
    rmSync(base, { recursive: true, force: true });
    throw err;
  }
}

/** A throwaway PostgreSQL cluster on a private socket folder. */
export async function startScratchPostgres(): Promise<ScratchServer> {
  const dirs = pgBinDirs();
  const postgres = find(['postgres'], dirs);
  const initdb = find(['initdb'], dirs);
  if (!postgres || !initdb) throw new PermanentError('no PostgreSQL server (postgres, initdb) is installed for a scratch restore; install one or give verify a server (verify: { dsn: … }).');
  const version = execFileSync(postgres, ['--version']).toString().trim();
  const owner = account('postgres');
  const base = mkdtempSync(join(tmpdir(), 'onedump-scratch-pg-'));
  const datadir = join(base, 'data');
  const logFile = join(base, 'postgres.log');
  try {
    if (owner) chownSync(base, owner.uid, owner.gid);
    const as = owner ? { uid: owner.uid, gid: owner.gid } : {};
    execFileSync(initdb, ['-D', datadir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync'], { stdio: 'pipe', cwd: base, ...as });
    const port = 5432;
    const child = spawn(
      postgres,
      ['-D', datadir, '-p', String(port), '-k', base, '-c', "listen_addresses=", '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', `log_directory=${base}`, '-c', 'logging_collector=off'],
      { stdio: ['ignore', 'ignore', 'pipe'], cwd: base, ...as },
    );
    let log = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      if (log.length < 16384) log += s;
    });
    await waitForSocket(join(base, `.s.PGSQL.${port}`), child, () => log || (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''), 'PostgreSQL');
    return {
      engine: 'postgres',
      dsn: { engine: 'postgres', user: 'postgres', socket: base, port, database: 'postgres', params: {} },
      version,
      stop: stopper(child, base, 'SIGINT'),
    };
  } catch (err) {
    rmSync(base, { recursive: true, force: true });
    throw err;
  }
}

export function startScratchServer(engine: 'mysql' | 'postgres'): Promise<ScratchServer> {
  return engine === 'mysql' ? startScratchMysql() : startScratchPostgres();
}
