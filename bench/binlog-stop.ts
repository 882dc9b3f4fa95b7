// Finds the stop position for a --stop-datetime with the native reader (checksums verified); used by bench/binlog.sh.
import { planReplay } from '../src/binlog/planner.js';

const [dir, startFile, stop] = process.argv.slice(2);
if (!dir || !startFile || !stop) {
  process.stderr.write('usage: binlog-stop.ts DIR START_FILE EPOCH_SECONDS\n');
  process.exit(2);
}
const t0 = performance.now();
const plan = await planReplay({ dir, startFile, stopDatetime: Number(stop) });
const ms = performance.now() - t0;
process.stdout.write(`${JSON.stringify({ stop: plan.stop ? `${plan.stop.file}:${plan.stop.pos}` : null, events: plan.events, ms: Math.round(ms), rssMB: Math.round(process.memoryUsage().rss / 1048576) })}\n`);
