import { formatBytes } from './duration.js';

/** A one-line live progress display on a TTY (bytes, rate, ETA when the total is known); silent elsewhere. */
export class ProgressLine {
  private readonly items = new Map<string, { bytes: number; total?: number; started: number }>();
  private timer?: NodeJS.Timeout;
  private lastLen = 0;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  get enabled(): boolean {
    return Boolean(this.stream.isTTY);
  }

  update(name: string, bytes: number, total?: number): void {
    if (!this.enabled) return;
    const cur = this.items.get(name) ?? { bytes: 0, total, started: Date.now() };
    cur.bytes = bytes;
    if (total !== undefined) cur.total = total;
    this.items.set(name, cur);
    this.timer ??= setInterval(() => this.render(), 500).unref();
  }

  done(name: string): void {
    this.items.delete(name);
    if (this.items.size === 0) this.stop();
  }

  private render(): void {
    const parts: string[] = [];
    for (const [name, it] of this.items) {
      const secs = Math.max(0.001, (Date.now() - it.started) / 1000);
      const rate = it.bytes / secs;
      let s = `${name}: ${formatBytes(it.bytes)} ${formatBytes(rate)}/s`;
      if (it.total) {
        const pct = Math.min(100, (it.bytes / it.total) * 100);
        const eta = rate > 0 ? Math.max(0, (it.total - it.bytes) / rate) : 0;
        s += ` ${pct.toFixed(0)}% ETA ${Math.round(eta)}s`;
      }
      parts.push(s);
    }
    const line = parts.join(' | ').slice(0, (this.stream.columns ?? 120) - 1);
    this.stream.write(`\r${line}${' '.repeat(Math.max(0, this.lastLen - line.length))}`);
    this.lastLen = line.length;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.lastLen) this.stream.write(`\r${' '.repeat(this.lastLen)}\r`);
    this.lastLen = 0;
  }
}
