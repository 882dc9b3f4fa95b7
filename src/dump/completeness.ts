import { Writable } from 'node:stream';

/**
 * A dump is complete only if the tool exited 0 AND its output ends with the tool's own end marker: a dump tool that
 * is killed, replaced by a wrapper that swallows its exit status, or cut off by a full pipe on the far side of an SSH
 * channel can leave a clean exit and a truncated stream (peers have shipped a 340 MB copy of a 343 MB pg_dump). The
 * check keeps the first and the last few KiB of the stream, never more.
 */
export interface EndCheck {
  /** What the check looks for, for messages and results ("mysqldump's '-- Dump completed' line"). */
  readonly marker: string;
  observe(chunk: Buffer): void;
  /** undefined when the output is complete; else what is wrong, as a clause ("does not end with …"). */
  verdict(): string | undefined;
  /** What the dump's header says of its source, for the manifest. */
  facts(): { server?: string; databases?: string[] };
}

const HEAD_BYTES = 4096;
const TAIL_BYTES = 4096;

/** Keeps the first HEAD_BYTES and the last TAIL_BYTES of a stream without copying the chunks in between. */
class HeadTail {
  private head: Buffer[] = [];
  private headBytes = 0;
  private tail: Buffer = Buffer.alloc(0);
  bytes = 0;

  observe(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.headBytes < HEAD_BYTES) {
      const take = chunk.subarray(0, HEAD_BYTES - this.headBytes);
      this.head.push(Buffer.from(take));
      this.headBytes += take.length;
    }
    if (chunk.length >= TAIL_BYTES) this.tail = Buffer.from(chunk.subarray(chunk.length - TAIL_BYTES));
    else {
      const joined = Buffer.concat([this.tail, chunk]);
      this.tail = joined.length > TAIL_BYTES ? joined.subarray(joined.length - TAIL_BYTES) : joined;
    }
  }

  /** mysqldump's "-- Server version\t…" and "Database: …", pg_dump's "-- Dumped from database version …". */
  facts(): { server?: string; databases?: string[] } {
    const head = this.headText();
    const server = /^-- Server version\t(.+)$/m.exec(head)?.[1] ?? /^-- Dumped from database version (.+)$/m.exec(head)?.[1];
    const db = /^-- Host: .*? {4}Database: (.+)$/m.exec(head)?.[1]?.trim();
    return { server: server?.trim(), databases: db ? [db] : undefined };
  }

  headText(): string {
    return Buffer.concat(this.head).toString('latin1');
  }

  tailText(): string {
    return this.tail.toString('latin1');
  }
}

/** The last non-blank lines of a text, without trailing white space. */
function lastLines(text: string, n: number): string[] {
  return text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '')
    .slice(-n);
}

function hasOption(options: readonly string[], ...names: string[]): boolean {
  return options.some((o) => names.some((n) => o === n || o.startsWith(`${n}=`)));
}

function optionValue(options: readonly string[], long: string, short?: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < options.length; i++) {
    const o = options[i]!;
    if (o.startsWith(`${long}=`)) value = o.slice(long.length + 1);
    else if (o === long) value = options[i + 1];
    else if (short && o === short) value = options[i + 1];
    else if (short && o.startsWith(short) && o.length > short.length) value = o.slice(short.length).replace(/^=/, '');
  }
  return value;
}

/**
 * mysqldump / mariadb-dump: with comments on (the default) the last line is "-- Dump completed[ on DATE]"; with
 * --xml the document ends with "</mysqldump>". With --compact or --skip-comments mysqldump writes no marker at all:
 * then there is nothing to check, and the caller says so (undefined).
 */
export function mysqldumpEndCheck(options: readonly string[]): EndCheck | undefined {
  if (hasOption(options, '--xml') || options.includes('-X')) {
    const ht = new HeadTail();
    return {
      marker: "mysqldump's closing </mysqldump> tag",
      observe: (c) => ht.observe(c),
      facts: () => ht.facts(),
      verdict: () => (lastLines(ht.tailText(), 1)[0] === '</mysqldump>' ? undefined : 'does not end with </mysqldump>'),
    };
  }
  const comments = optionValue(options, '--comments');
  if (hasOption(options, '--compact', '--skip-comments') || comments === '0' || comments === 'FALSE' || comments === 'false' || comments === 'OFF') {
    return undefined;
  }
  const ht = new HeadTail();
  return {
    marker: "mysqldump's '-- Dump completed' line",
    observe: (c) => ht.observe(c),
    facts: () => ht.facts(),
    verdict: () => {
      const last = lastLines(ht.tailText(), 1)[0];
      return last !== undefined && /^-- Dump completed( on .*)?$/.test(last) ? undefined : "does not end with mysqldump's '-- Dump completed' line";
    },
  };
}

/**
 * pg_dump: the plain format ends with "-- PostgreSQL database dump complete" (unless --no-comments), and since the
 * 2025 security releases (17.6, 16.10, 15.14, …) a plain dump that opens with "\restrict KEY" must close with
 * "\unrestrict KEY". The tar format ends with two zero blocks. The custom format has no trailer (pg_restore finds a
 * truncated one when it reads it): only the exit status counts there, and the caller says so (undefined).
 */
export function pgDumpEndCheck(options: readonly string[]): EndCheck | undefined {
  const format = (optionValue(options, '--format', '-F') ?? 'p').toLowerCase();
  if (format === 'c' || format === 'custom' || format === 'd' || format === 'directory') return undefined;
  const ht = new HeadTail();
  if (format === 't' || format === 'tar') {
    return {
      marker: 'the tar format’s two closing zero blocks',
      observe: (c) => ht.observe(c),
      facts: () => ({}),
      verdict: () => {
        const tail = ht.tailText();
        return ht.bytes >= 1024 && ht.bytes % 512 === 0 && /^\0{1024}$/.test(tail.slice(-1024)) ? undefined : 'does not end with the tar format’s two zero blocks';
      },
    };
  }
  const comments = !options.includes('--no-comments');
  return {
    marker: "pg_dump's '-- PostgreSQL database dump complete' line",
    observe: (c) => ht.observe(c),
    facts: () => ht.facts(),
    verdict: () => {
      const restrict = /^\\restrict (\S+)$/m.exec(ht.headText());
      const lines = lastLines(ht.tailText(), 3);
      if (restrict && lines[lines.length - 1] !== `\\unrestrict ${restrict[1]}`) return 'does not end with the \\unrestrict line that matches its \\restrict line';
      // With --no-comments and a pg_dump older than the \restrict releases there is no marker: the exit status decides.
      if (comments && !lines.includes('-- PostgreSQL database dump complete')) return "does not end with pg_dump's '-- PostgreSQL database dump complete' line";
      return undefined;
    },
  };
}

/**
 * A Writable that shows every chunk to `observe` and passes it on to `out` with out's backpressure. Errors of `out`
 * destroy it, so a writer that checks `destroyed` stops as it would on `out` itself.
 */
export function observedWritable(out: Writable, observe: (chunk: Buffer) => void): Writable {
  const w = new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, cb) {
      observe(chunk);
      if (out.destroyed) return cb(new Error('the destination was closed'));
      if (out.write(chunk)) cb();
      else out.once('drain', () => cb());
    },
  });
  const onError = (err: Error) => w.destroy(err);
  out.once('error', onError);
  w.once('close', () => out.off('error', onError));
  return w;
}
