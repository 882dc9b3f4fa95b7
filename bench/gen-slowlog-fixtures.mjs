#!/usr/bin/env node
// Writes a slow log of about SIZE_MB megabytes made of the real logs in test/fixtures/slowlogs/
// (MySQL 8.4 from real servers), copied again and again, each copy's times shifted past the one
// before (`# Time:`, `Start:`/`End:` and `SET timestamp=`): an input that no generator was tuned to.
//
//   node bench/gen-slowlog-fixtures.mjs OUT SIZE_MB
import { readFileSync, readdirSync, createWriteStream } from 'node:fs';
import { Buffer } from 'node:buffer';
import { join } from 'node:path';
import { URL, fileURLToPath } from 'node:url';

const [out, sizeArg] = process.argv.slice(2);
if (!out || !sizeArg) {
  console.error('usage: node bench/gen-slowlog-fixtures.mjs OUT SIZE_MB');
  process.exit(2);
}
const root = fileURLToPath(new URL('../test/fixtures/slowlogs/', import.meta.url));
const logs = [];
for (const dir of ['long', 'short']) {
  for (const name of readdirSync(join(root, dir)).sort()) {
    if (name.endsWith('.log')) logs.push(readFileSync(join(root, dir, name), 'latin1'));
  }
}
const text = logs.map((t) => (t.endsWith('\n') ? t : t + '\n')).join('');
const targetBytes = Number(sizeArg) * 1024 * 1024;
const DAY = 86_400;
const shiftIso = (iso, seconds) => {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$/.exec(iso);
  if (!m) return iso;
  const t = new Date(m[1] + 'Z').getTime() + seconds * 1000;
  return new Date(t).toISOString().slice(0, 19) + (m[2] ?? '') + m[3];
};
function shifted(copy) {
  const s = copy * DAY;
  return text
    .replace(/^(# Time: )(\S+)/gm, (_, p, iso) => p + shiftIso(iso, s))
    .replace(/( (?:Start|End): )(\S+)/g, (_, p, iso) => p + shiftIso(iso, s))
    .replace(/^(SET timestamp=)(\d+)/gm, (_, p, n) => p + (Number(n) + s));
}
const file = createWriteStream(out);
let written = 0;
for (let copy = 0; written < targetBytes; copy++) {
  const chunk = Buffer.from(shifted(copy), 'latin1');
  written += chunk.length;
  if (!file.write(chunk)) await new Promise((resolve) => file.once('drain', resolve));
}
file.end();
await new Promise((resolve) => file.on('finish', resolve));
