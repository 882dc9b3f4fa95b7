import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { CLI_ENTRY, ROOT, runCli } from '../../testutils/cli.js';

describe('passwords on the command line', () => {
  it('are masked in the process list as soon as onedump starts, with a warning that says what to use instead', { timeout: 60_000 }, async () => {
    // A "database" that accepts and never answers keeps the dump waiting while the process list is read.
    const sockets = new Set<Socket>();
    const silent = createServer((s) => sockets.add(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const port = (silent.address() as { port: number }).port;
    const child = spawn(process.execPath, ['--import', 'tsx', CLI_ENTRY, 'dump', '--dsn', `app:pa%40ss-w0rd@tcp(127.0.0.1:${port})/db`, '--to', '/dev/null'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    try {
      await new Promise<void>((resolve, reject) => {
        child.stderr.setEncoding('utf8').on('data', (s: string) => {
          stderr += s;
          if (stderr.includes('\n')) resolve();
        });
        child.on('exit', () => reject(new Error(`onedump exited early: ${stderr}`)));
      });
      expect(stderr).toMatch(/^onedump: warning: a password on the command line \(--dsn\) can be seen by other users.*--dsn - with the DSN in ONEDUMP_DSN/);
      const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8');
      expect(cmdline).toContain(`app:xxxxx@tcp(127.0.0.1:${port})/db`);
      expect(cmdline).not.toContain('pa%40ss-w0rd');
      expect(cmdline).not.toContain('pa@ss-w0rd');
    } finally {
      child.kill('SIGKILL');
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  });

  it('--dsn - takes the DSN from ONEDUMP_DSN (or DATABASE_DSN), without a warning; unset is a usage error', async () => {
    const env = { ONEDUMP_DSN: 'app:secret-pw@tcp(127.0.0.1:9)/db', DATABASE_DSN: '' };
    const plan = await runCli(['dump', '--dsn', '-', '--to', '/tmp/never.sql', '--dry-run'], { env });
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('native mysql from mysql://app:***@127.0.0.1:9/db');
    expect(plan.stdout + plan.stderr).not.toContain('secret-pw');
    expect(plan.stderr).not.toContain('warning');
    const fallback = await runCli(['dump', '--dsn', '-', '--to', '/tmp/never.sql', '--dry-run'], { env: { ONEDUMP_DSN: '', DATABASE_DSN: 'postgres://pg:pw@127.0.0.1:9/app' } });
    expect(fallback.code, fallback.stderr).toBe(0);
    expect(fallback.stdout).toContain('postgres://pg:***@127.0.0.1:9/app');
    const unset = await runCli(['dump', '--dsn', '-', '--to', '/tmp/never.sql'], { env: { ONEDUMP_DSN: '', DATABASE_DSN: '' } });
    expect(unset.code).toBe(2);
    expect(unset.stderr.trim()).toBe('onedump: --dsn - reads the DSN from the environment, but ONEDUMP_DSN and DATABASE_DSN are not set.');
  });
});

describe('the Go tool\'s AWS secret flags', () => {
  it('are masked in the process list and redacted from the output, with a warning', { timeout: 60_000 }, async () => {
    // An S3 endpoint that refuses every request: the config fetch fails at once, and nothing printed holds the secret.
    const s3 = createHttpServer((req, res) => {
      req.resume();
      res.writeHead(403, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>');
    });
    await new Promise<void>((r) => s3.listen(0, '127.0.0.1', () => r()));
    try {
      const endpoint = `http://127.0.0.1:${(s3.address() as { port: number }).port}`;
      // Also in pflag's -s=SECRET form, which is read as -s SECRET before the secrets are looked for.
      for (const secretArgs of [['-s', 'wJalrXUtnFEMI-secret-K7MDENG'], ['-s=wJalrXUtnFEMI-secret-K7MDENG']]) {
        const r = await runCli(['-f', 'jobs.yml', '-b', 'backups', '-r', 'us-east-1', '-k', 'AKIDEXAMPLE', ...secretArgs, '--dry-run'], {
          env: { AWS_ENDPOINT_URL_S3: endpoint, AWS_S3_FORCE_PATH_STYLE: 'true' },
          timeoutMs: 30_000,
        });
        expect(r.stderr).toMatch(/^onedump: warning: a secret on the command line \(-s\) can be seen by other users/);
        expect(r.stderr).toMatch(/jobs\.yml/);
        expect(r.stdout + r.stderr).not.toContain('wJalrXUtnFEMI-secret-K7MDENG');
        expect(r.stdout + r.stderr).not.toContain('=wJalrX');
        expect(r.code).toBe(2);
      }
    } finally {
      await new Promise<void>((r) => s3.close(() => r()));
    }
  });
});
