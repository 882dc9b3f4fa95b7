// Times the native dumper alone into a discarding Writable (no gzip, hash or storage): the dumper's own ceiling.
import { Writable } from 'node:stream';
import { NativeMysqlDumper } from '../src/dump/mysql-native/dumper.js';
import { parseNativeOptions } from '../src/dump/mysql-native/options.js';
import { parseDsn } from '../src/config/dsn.js';
import { silentLogger } from '../src/util/logger.js';
import { jobSchema } from '../src/config/schema.js';

const dsn = parseDsn(process.argv[2]!);
let bytes = 0;
const sink = new Writable({ highWaterMark: 1 << 20, write(chunk: Buffer, _e, cb) { bytes += chunk.length; setImmediate(cb); } });
const job = jobSchema.parse({ name: 'bench', dbdriver: 'mysql', dbdsn: process.argv[2], storage: {} });
const t0 = process.hrtime.bigint();
let peak = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
const sampler = setInterval(() => {
  const m = process.memoryUsage();
  if (m.rss > peak.rss) peak = { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}, 50);
await new NativeMysqlDumper(dsn, parseNativeOptions([], 'bench')).dump(sink, { job, log: silentLogger, signal: new AbortController().signal });
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
clearInterval(sampler);
const mb = (n: number) => (n / 1e6).toFixed(0);
console.log(`peak rss ${mb(peak.rss)} MB (heap ${mb(peak.heapUsed)}, external ${mb(peak.external)}, arrayBuffers ${mb(peak.arrayBuffers)})`);
console.log(`${(bytes / 1e6).toFixed(1)} MB in ${ms.toFixed(0)} ms = ${(bytes / 1e3 / ms).toFixed(1)} MB/s, rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB`);
