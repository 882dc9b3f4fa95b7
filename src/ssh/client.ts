import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import type { Duplex, Writable } from 'node:stream';
import ssh2 from 'ssh2';
import type { ClientChannel, SFTPWrapper } from 'ssh2';
import { PermanentError, TransientError, isTransient } from '../util/errors.js';
import { loadPrivateKey, type LoadedKey } from './keys.js';
import { checkHostKey, HostKeyError } from './hostkeys.js';
import { homedir } from 'node:os';

/** The SSH keys a job or SFTP storage carries (see options.ts). */
export interface SshConfig {
  sshhost?: string;
  sshport?: number;
  sshuser?: string;
  sshkey?: string;
  sshpassphrase?: string;
  sshknownhosts?: string;
  sshhostkey?: string;
}

export interface SshTarget {
  host: string;
  port: number;
  user: string;
  key: LoadedKey;
  /** known_hosts files; default ~/.ssh/known_hosts (onedump's own file is always consulted too). */
  knownHosts?: string[];
  hostKey?: string;
  /** Override of onedump's own known_hosts (tests). */
  ownKnownHosts?: string;
}

/** Splits `host`, `host:port` or `[v6]:port`; an explicit sshport wins. */
export function splitHostPort(hostField: string, port?: number): { host: string; port: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(hostField);
  if (v6) return { host: v6[1]!, port: port ?? (v6[2] ? Number(v6[2]) : 22) };
  const m = /^([^:]+):(\d+)$/.exec(hostField);
  if (m) return { host: m[1]!, port: port ?? Number(m[2]) };
  return { host: hostField, port: port ?? 22 };
}

/** Builds a target from config keys; `what` names the config location in errors (e.g. `storage.sftp[0]`; '' for a job, whose name the runner adds). */
export function sshTarget(cfg: SshConfig, what: string, extra: { ownKnownHosts?: string } = {}): SshTarget {
  const pre = what ? `${what}: ` : '';
  if (!cfg.sshhost) throw new PermanentError(`${pre}sshhost is required for SSH.`);
  if (!cfg.sshuser) throw new PermanentError(`${pre}sshuser is required with sshhost.`);
  if (!cfg.sshkey) throw new PermanentError(`${pre}sshkey is required with sshhost (a key file path, base64 of the key, or its PEM text).`);
  const { host, port } = splitHostPort(cfg.sshhost, cfg.sshport);
  const expand = (p: string) => (p.startsWith('~/') ? homedir() + p.slice(1) : p);
  return {
    host,
    port,
    user: cfg.sshuser,
    key: loadPrivateKey(cfg.sshkey, cfg.sshpassphrase, `${pre}sshkey`),
    knownHosts: cfg.sshknownhosts ? [expand(cfg.sshknownhosts)] : undefined,
    hostKey: cfg.sshhostkey,
    ownKnownHosts: extra.ownKnownHosts,
  };
}

export interface ConnectOptions {
  signal?: AbortSignal;
  readyTimeoutMs?: number;
  /** Receives notices such as first-use host key recording. */
  onNotice?: (message: string) => void;
}

export interface RunResult {
  code: number | null;
  signal?: string;
  stderr: string;
}

const STDERR_LIMIT = 16 * 1024;

/** A live SSH connection: tunnels, remote commands and SFTP over one session. */
export class SshSession {
  private servers = new Set<Server>();
  private closed = false;
  constructor(
    readonly client: ssh2.Client,
    readonly target: SshTarget,
  ) {}

  get label(): string {
    return `${this.target.user}@${this.target.host}:${this.target.port}`;
  }

  /** A stream to host:port as seen from the SSH server (direct-tcpip); e.g. mysql2's `stream` option. */
  forward(dstHost: string, dstPort: number): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      this.client.forwardOut('127.0.0.1', 0, dstHost, dstPort, (err, ch) => {
        if (err) reject(new TransientError(`SSH ${this.label} could not open a tunnel to ${dstHost}:${dstPort}: ${err.message}.`, { cause: err }));
        else resolve(ch);
      });
    });
  }

  /** A local loopback TCP port forwarded to dstHost:dstPort through the server; for clients that need an address. */
  async listen(dstHost: string, dstPort: number): Promise<{ host: string; port: number; close: () => Promise<void> }> {
    // Half-open sockets so a client's EOF reaches the far end while its reply still flows back.
    const server = createServer({ allowHalfOpen: true }, (sock: Socket) => {
      sock.setNoDelay(true);
      this.forward(dstHost, dstPort).then(
        (ch) => {
          sock.pipe(ch).pipe(sock);
          ch.on('error', () => sock.destroy());
          sock.on('error', () => ch.destroy());
          sock.on('close', () => ch.close());
        },
        () => sock.destroy(),
      );
    });
    this.servers.add(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    return {
      host: '127.0.0.1',
      port,
      close: () =>
        new Promise<void>((resolve) => {
          this.servers.delete(server);
          server.close(() => resolve());
        }),
    };
  }

  /** Starts a remote command; the caller owns its streams. */
  exec(command: string): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, ch) => {
        if (err) reject(new TransientError(`SSH ${this.label} could not run a remote command: ${err.message}.`, { cause: err }));
        else resolve(ch);
      });
    });
  }

  /**
   * Runs a remote command: writes `stdin` (then EOF), streams stdout into `stdout` with backpressure (or discards
   * it), collects the tail of stderr. Resolves with the exit status; closes the channel when `signal` aborts.
   */
  async run(command: string, o: { stdin?: string | Buffer; stdout?: Writable; signal?: AbortSignal } = {}): Promise<RunResult> {
    const ch = await this.exec(command);
    let stderr = '';
    ch.stderr.on('data', (d: Buffer) => {
      if (stderr.length < STDERR_LIMIT) stderr += d.toString('utf8').slice(0, STDERR_LIMIT - stderr.length);
    });
    const onAbort = () => {
      try {
        ch.signal('TERM');
      } catch {
        /* channel may already be gone */
      }
      ch.close();
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await new Promise<RunResult>((resolve, reject) => {
        let code: number | null = null;
        let sig: string | undefined;
        ch.on('exit', (c: number | null, s?: string) => {
          code = c;
          sig = s ?? undefined;
        });
        const out = o.stdout;
        const onOutError = (err: Error) => {
          ch.close();
          reject(err);
        };
        out?.once('error', onOutError);
        ch.on('data', (chunk: Buffer) => {
          if (out && !out.write(chunk)) {
            ch.pause();
            out.once('drain', () => ch.resume());
          }
        });
        ch.on('error', reject);
        ch.on('close', () => {
          out?.off('error', onOutError);
          if (o.signal?.aborted) return reject(o.signal.reason);
          resolve({ code, signal: sig, stderr });
        });
        if (o.stdin !== undefined) ch.end(o.stdin);
        else ch.end();
      });
    } finally {
      o.signal?.removeEventListener('abort', onAbort);
    }
  }

  sftp(): Promise<SFTPWrapper> {
    return new Promise((resolve, reject) => {
      this.client.sftp((err, s) => (err ? reject(new TransientError(`SSH ${this.label} could not start SFTP: ${err.message}.`, { cause: err })) : resolve(s)));
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.servers].map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.servers.clear();
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 2000);
      this.client.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      this.client.end();
    });
  }
}

let bindingNoticeGiven = false;

/**
 * The single executable embeds ssh2's native crypto binding (scripts/sea-sshcrypto.js). When it cannot load, ssh2
 * falls back to its JavaScript ciphers without a word, and SFTP runs at about half the speed; the loader leaves its
 * reason in a global, and the first SSH connection of the process passes it on as a notice (once).
 */
export function cryptoBindingNotice(): string | undefined {
  const reason = (globalThis as { __onedumpSshcryptoError?: unknown }).__onedumpSshcryptoError;
  if (typeof reason !== 'string' || bindingNoticeGiven) return undefined;
  bindingNoticeGiven = true;
  return `SSH runs without its native crypto binding (${reason}), at about half the speed; set XDG_CACHE_HOME to a folder of your own on a file system that allows running programs.`;
}

/**
 * Connects and authenticates with the target's key, checking the host key first (known_hosts, pinned fingerprint,
 * or first-use recording). Auth and host-key failures are permanent; network failures are transient.
 */
export async function connectSsh(t: SshTarget, o: ConnectOptions = {}): Promise<SshSession> {
  const where = `${t.user}@${t.host}:${t.port}`;
  if (o.onNotice) {
    const notice = cryptoBindingNotice();
    if (notice) o.onNotice(notice);
  }
  o.signal?.throwIfAborted();
  // Our own socket so Nagle can be turned off before any data flows (streamed SFTP writes crawl otherwise).
  const sock: Socket = await new Promise((resolve, reject) => {
    const s = netConnect({ host: t.host, port: t.port });
    const onErr = (err: Error) => {
      s.destroy();
      reject(new TransientError(`SSH ${where} is unreachable: ${err.message}.`, { cause: err }));
    };
    s.once('error', onErr);
    s.setTimeout(o.readyTimeoutMs ?? 20_000, () => onErr(Object.assign(new Error('connection timed out'), { code: 'ETIMEDOUT' })));
    s.once('connect', () => {
      s.off('error', onErr);
      s.setTimeout(0);
      s.setNoDelay(true);
      resolve(s);
    });
  });
  const client = new ssh2.Client();
  let hostKeyError: Error | undefined;
  return new Promise<SshSession>((resolve, reject) => {
    let settled = false;
    const onAbort = () => {
      client.end();
      sock.destroy();
      fail(o.signal?.reason ?? new Error('aborted'));
    };
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      o.signal?.removeEventListener('abort', onAbort);
      reject(err);
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    client.once('ready', () => {
      if (settled) return;
      settled = true;
      o.signal?.removeEventListener('abort', onAbort);
      client.on('error', () => {
        /* later errors surface on channels */
      });
      resolve(new SshSession(client, t));
    });
    client.once('error', (err: Error & { level?: string }) => {
      client.end();
      if (hostKeyError) return fail(hostKeyError);
      if (err.level === 'client-authentication') {
        return fail(new PermanentError(`SSH ${where} refused the key (authentication failed); check sshuser and sshkey, and that the public key is in the server's authorized_keys.`, { cause: err }));
      }
      if (err.level === 'client-timeout') return fail(new TransientError(`SSH ${where} did not complete the handshake in time.`, { cause: err }));
      const wrapped = isTransient(err) || err.level === 'client-socket'
        ? new TransientError(`SSH ${where} failed: ${err.message}.`, { cause: err })
        : new PermanentError(`SSH ${where} failed: ${err.message}.`, { cause: err });
      fail(wrapped);
    });
    client.once('close', () => fail(hostKeyError ?? new TransientError(`SSH ${where} closed the connection during the handshake.`)));
    client.connect({
      sock,
      host: t.host,
      port: t.port,
      username: t.user,
      privateKey: t.key.pem,
      passphrase: t.key.passphrase,
      readyTimeout: o.readyTimeoutMs ?? 20_000,
      keepaliveInterval: 15_000,
      keepaliveCountMax: 4,
      hostVerifier: (key: Buffer) => {
        try {
          checkHostKey(
            { host: t.host, port: t.port, pinned: t.hostKey, knownHosts: t.knownHosts, ownKnownHosts: t.ownKnownHosts, onRecorded: o.onNotice },
            key,
          );
          return true;
        } catch (err) {
          hostKeyError = err instanceof HostKeyError ? err : new HostKeyError(String((err as Error).message));
          return false;
        }
      },
    });
  });
}

/** Connects, runs `fn`, always closes. */
export async function withSsh<T>(t: SshTarget, o: ConnectOptions, fn: (s: SshSession) => Promise<T>): Promise<T> {
  const s = await connectSsh(t, o);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

/** POSIX shell single-quoting for remote command lines (no secrets ever go through here). */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_/.,:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export type { Duplex };
