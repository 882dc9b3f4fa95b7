import { spawn, type ChildProcess } from 'node:child_process';
import { CLI_ENTRY, ROOT } from './cli.js';

export interface LogLine {
  level: string;
  msg: string;
  job?: string;
  [k: string]: unknown;
}

export interface DaemonProcess {
  child: ChildProcess;
  /** JSON log lines from stderr so far. */
  logs: LogLine[];
  stderr(): string;
  /** Waits for a log line whose message matches. */
  waitForLog(re: RegExp, timeoutMs?: number): Promise<LogLine>;
  signal(sig: NodeJS.Signals): void;
  /** Waits for the process to exit. */
  exited(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(): void;
}

/** Runs `onedump ARGS` (normally --daemon) as a real child process with JSON logs on stderr. */
export function startDaemon(args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): DaemonProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', CLI_ENTRY, ...args, '--log-format', 'json'], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: '1', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  let raw = '';
  let partial = '';
  child.stdout!.resume();
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    raw += s;
    partial += s;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) {
      try {
        logs.push(JSON.parse(l) as LogLine);
      } catch {
        logs.push({ level: 'raw', msg: l });
      }
    }
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const deadline = async <T>(p: Promise<T>, ms: number, what: string): Promise<T> => {
    let t: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        p,
        new Promise<T>(
          (_, rej) =>
            (t = setTimeout(() => rej(new Error(`timed out after ${ms} ms waiting for ${what}; daemon stderr:\n${raw.slice(-4000)}`)), ms)),
        ),
      ]);
    } finally {
      clearTimeout(t);
    }
  };
  return {
    child,
    logs,
    stderr: () => raw,
    waitForLog: (re, timeoutMs = 30_000) =>
      deadline(
        (async () => {
          for (;;) {
            const hit = logs.find((l) => re.test(l.msg));
            if (hit) return hit;
            if (child.exitCode !== null)
              throw new Error(`the daemon exited (${child.exitCode}) before logging ${re}:\n${raw.slice(-4000)}`);
            await new Promise((r) => setTimeout(r, 50));
          }
        })(),
        timeoutMs,
        `a log line matching ${re}`,
      ),
    signal: (sig) => child.kill(sig),
    exited: (timeoutMs = 30_000) => deadline(exit, timeoutMs, 'the daemon to exit'),
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
