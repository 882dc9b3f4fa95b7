import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync, mkdirSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { freePort, waitFor } from './ports.js';
import { requireBinary } from './binaries.js';

export interface SshdInstance {
  host: string;
  port: number;
  /** The user the authorized key logs in as (the current user: root here). */
  user: string;
  /** Private key (OpenSSH format, ed25519) accepted by the server, as a file and as text. */
  keyPath: string;
  keyText: string;
  /** An unrelated key the server refuses. */
  otherKeyPath: string;
  /** The server's ed25519 host public key line ("ssh-ed25519 AAAA…") and its SHA256 fingerprint. */
  hostKeyLine: string;
  hostKeyFingerprint: string;
  /** A known_hosts file that trusts this server. */
  knownHostsPath: string;
  /** A private folder for the test to put files in. */
  dir: string;
  /** Makes another key pair of the given type; returns the private key path. */
  makeKey(type: 'ed25519' | 'ecdsa' | 'rsa', opts?: { passphrase?: string; authorize?: boolean; format?: 'openssh' | 'pem' }): string;
  stop(): Promise<void>;
}

export interface SshdOptions {
  /** Extra sshd_config lines. */
  config?: string[];
}

/**
 * Starts OpenSSH sshd on a loopback port with its own config, host key and authorized key (SFTP subsystem and TCP
 * forwarding on). Fails loudly when sshd is not installed (apt-get install openssh-server).
 */
export async function startSshd(opts: SshdOptions = {}): Promise<SshdInstance> {
  const sshd = requireBinary('sshd');
  const keygen = requireBinary('ssh-keygen');
  const dir = mkdtempSync(join(tmpdir(), 'onedump-sshd-'));
  chmodSync(dir, 0o700);
  const gen = (file: string, type: string, extra: string[] = []) =>
    execFileSync(keygen, ['-q', '-t', type, '-N', '', '-C', 'onedump-test', '-f', file, ...extra], { stdio: 'pipe' });
  const hostKey = join(dir, 'host_ed25519');
  gen(hostKey, 'ed25519');
  const keyPath = join(dir, 'client_ed25519');
  gen(keyPath, 'ed25519');
  const otherKeyPath = join(dir, 'other_ed25519');
  gen(otherKeyPath, 'ed25519');
  const authorized = join(dir, 'authorized_keys');
  writeFileSync(authorized, readFileSync(`${keyPath}.pub`), { mode: 0o600 });
  const port = await freePort();
  const sftpServer = ['/usr/lib/openssh/sftp-server', '/usr/libexec/openssh/sftp-server', '/usr/lib/ssh/sftp-server'].find((p) => existsSync(p));
  if (!sftpServer) throw new Error('test prerequisite missing: sftp-server (apt-get install openssh-server)');
  const user = execFileSync('id', ['-un']).toString().trim();
  const config = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKey}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${authorized}`,
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'PermitRootLogin prohibit-password',
    'UsePAM no',
    'StrictModes no',
    'AllowTcpForwarding yes',
    'MaxSessions 50',
    'MaxStartups 50:30:100',
    `Subsystem sftp ${sftpServer}`,
    ...(opts.config ?? []),
  ];
  const cfgPath = join(dir, 'sshd_config');
  writeFileSync(cfgPath, config.join('\n') + '\n');
  mkdirSync('/run/sshd', { recursive: true });
  const logPath = join(dir, 'sshd.log');
  const child: ChildProcess = spawn(sshd, ['-D', '-f', cfgPath, '-E', logPath], { stdio: 'ignore' });
  let exited = false;
  child.on('exit', () => (exited = true));
  await waitFor('sshd', async () => {
    if (exited) throw Object.assign(new Error(`sshd exited: ${existsSync(logPath) ? readFileSync(logPath, 'utf8').slice(-1500) : ''}`), { fatal: true });
    await new Promise<void>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve();
      });
      s.on('error', reject);
    });
  });
  const hostKeyLine = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  const fpOut = execFileSync(keygen, ['-l', '-E', 'sha256', '-f', `${hostKey}.pub`]).toString();
  const hostKeyFingerprint = /SHA256:[A-Za-z0-9+/]+/.exec(fpOut)?.[0] ?? '';
  const knownHostsPath = join(dir, 'known_hosts');
  writeFileSync(knownHostsPath, `[127.0.0.1]:${port} ${hostKeyLine}\n`);
  let n = 0;
  return {
    host: '127.0.0.1',
    port,
    user,
    keyPath,
    keyText: readFileSync(keyPath, 'utf8'),
    otherKeyPath,
    hostKeyLine,
    hostKeyFingerprint,
    knownHostsPath,
    dir,
    makeKey(type, o = {}) {
      const file = join(dir, `key_${type}_${++n}`);
      const extra = type === 'rsa' ? ['-b', '2048'] : type === 'ecdsa' ? ['-b', '256'] : [];
      if (o.format === 'pem') extra.push('-m', 'PEM');
      execFileSync(keygen, ['-q', '-t', type, '-N', o.passphrase ?? '', '-C', 'onedump-test', '-f', file, ...extra], { stdio: 'pipe' });
      if (o.authorize !== false) writeFileSync(authorized, readFileSync(`${file}.pub`), { flag: 'a' });
      return file;
    },
    stop: async () => {
      if (!exited) {
        child.kill('SIGTERM');
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, 5000);
          child.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
