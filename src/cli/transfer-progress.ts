import type { Logger } from '../util/logger.js';
import { formatBytes, formatDuration } from '../util/duration.js';

/**
 * Progress of a multi-file transfer: on a TTY one overall line (files, bytes, rate, ETA) plus the files in flight,
 * redrawn in place; elsewhere a log line every `intervalMs`.
 */
export class TransferProgress {
  private totalFiles = 0;
  private totalBytes = 0;
  private doneFiles = 0;
  private failedFiles = 0;
  private doneBytes = 0;
  private readonly inFlight = new Map<string, { bytes: number; size: number }>();
  private readonly started = Date.now();
  private timer?: NodeJS.Timeout;
  private drawn = 0;

  constructor(
    private readonly log: Logger,
    private readonly verb: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly intervalMs = 10_000,
  ) {}

  private get tty(): boolean {
    return Boolean(this.stream.isTTY);
  }

  plan(files: number, bytes: number): void {
    this.totalFiles = files;
    this.totalBytes = bytes;
    if (files === 0) return;
    this.timer = setInterval(() => (this.tty ? this.render() : this.logLine()), this.tty ? 250 : this.intervalMs);
    this.timer.unref();
  }

  start(name: string, size: number): void {
    this.inFlight.set(name, { bytes: 0, size });
  }

  progress(name: string, bytes: number): void {
    const f = this.inFlight.get(name);
    if (f) f.bytes = bytes;
  }

  done(name: string, size: number): void {
    this.inFlight.delete(name);
    this.doneFiles++;
    this.doneBytes += size;
  }

  fail(name: string): void {
    this.inFlight.delete(name);
    this.failedFiles++;
  }

  private bytesNow(): number {
    let b = this.doneBytes;
    for (const f of this.inFlight.values()) b += f.bytes;
    return b;
  }

  private overall(): string {
    const bytes = this.bytesNow();
    const secs = Math.max(0.001, (Date.now() - this.started) / 1000);
    const rate = bytes / secs;
    const eta = rate > 0 && this.totalBytes > bytes ? ` ETA ${formatDuration(((this.totalBytes - bytes) / rate) * 1000)}` : '';
    const failed = this.failedFiles ? `, ${this.failedFiles} failed` : '';
    return `${this.verb} ${this.doneFiles}/${this.totalFiles} files${failed}, ${formatBytes(bytes)}/${formatBytes(this.totalBytes)}, ${formatBytes(rate)}/s${eta}`;
  }

  private logLine(): void {
    this.log.info(
      { files: this.doneFiles, of: this.totalFiles, failed: this.failedFiles, bytes: this.bytesNow(), total_bytes: this.totalBytes, in_flight: this.inFlight.size },
      this.overall(),
    );
  }

  private render(): void {
    const width = (this.stream.columns ?? 120) - 1;
    const lines = [this.overall()];
    let n = 0;
    for (const [name, f] of this.inFlight) {
      if (n++ >= 8) {
        lines.push(`  … and ${this.inFlight.size - 8} more`);
        break;
      }
      const pct = f.size ? ` ${Math.min(100, Math.round((f.bytes / f.size) * 100))}%` : '';
      lines.push(`  ${name} ${formatBytes(f.bytes)}/${formatBytes(f.size)}${pct}`);
    }
    let out = this.drawn > 1 ? `\x1b[${this.drawn - 1}A` : '';
    out += '\r';
    out += lines.map((l) => `\x1b[2K${l.slice(0, width)}`).join('\n');
    // Clear lines left over from a taller previous frame.
    for (let i = lines.length; i < this.drawn; i++) out += '\n\x1b[2K';
    if (this.drawn > lines.length) out += `\x1b[${this.drawn - lines.length}A`;
    this.stream.write(out);
    this.drawn = lines.length;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.tty && this.drawn) {
      let out = this.drawn > 1 ? `\x1b[${this.drawn - 1}A` : '';
      out += '\r\x1b[J';
      this.stream.write(out);
      this.drawn = 0;
    }
  }
}
