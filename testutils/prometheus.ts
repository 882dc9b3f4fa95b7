import { spawn, type ChildProcess } from 'node:child_process';
import { requireBinary } from './binaries.js';
import { freePort, waitFor } from './ports.js';

export interface PromServer {
  url: string;
  /** The server's own /metrics, as text. */
  scrape(): Promise<string>;
  stop(): Promise<void>;
}

async function start(binary: string, args: (port: number) => string[]): Promise<PromServer> {
  const port = await freePort();
  const child: ChildProcess = spawn(requireBinary(binary), args(port), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const scrape = async () => {
    const res = await fetch(`${url}/metrics`);
    if (!res.ok) throw new Error(`${binary} /metrics answered ${res.status}`);
    return res.text();
  };
  try {
    await waitFor(binary, async () => {
      if (child.exitCode !== null) throw new Error(`${binary} exited: ${stderr}`);
      return scrape();
    }, 30_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    url,
    scrape,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** A real Prometheus Pushgateway (Debian's prometheus-pushgateway), in memory, on a free loopback port. */
export function startPushgateway(): Promise<PromServer> {
  // Debian's build persists to /var/lib/prometheus by default: in memory only, so that runs do not see each other's pushes.
  return start('prometheus-pushgateway', (port) => [`--web.listen-address=127.0.0.1:${port}`, '--persistence.file=']);
}

/** A real node-exporter with only its textfile collector, reading `dir`. */
export function startNodeExporter(dir: string): Promise<PromServer> {
  return start('prometheus-node-exporter', (port) => [
    `--web.listen-address=127.0.0.1:${port}`,
    '--collector.disable-defaults',
    '--collector.textfile',
    `--collector.textfile.directory=${dir}`,
  ]);
}

/** The value of one sample in a scrape: `name{a="b",…}` with exactly these labels (any order). */
export function sampleValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) got[l[1]!] = l[2]!;
    const want = Object.entries(labels);
    if (want.length === Object.keys(got).length && want.every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}
