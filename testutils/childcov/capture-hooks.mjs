// Loader hooks registered by child-preload.mjs: writes the JavaScript of each src/ module as tsx produced it (with its
// inline source map) to DIR/<sha1 of the URL>.js, once per run (tsx's output for one file does not change within a run).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';

let dir = '';
let srcPrefix = '';

export function initialize(data) {
  dir = data.dir;
  srcPrefix = data.srcPrefix;
  mkdirSync(dir, { recursive: true });
}

function capture(url, result) {
  if (url.startsWith(srcPrefix) && result.source != null) {
    const file = join(dir, `${createHash('sha1').update(url).digest('hex')}.js`);
    if (!existsSync(file)) {
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify({ url, code: String(result.source) }));
      renameSync(tmp, file);
    }
  }
  return result;
}

/** Off-thread hook (module.register, Node 20). */
export async function load(url, context, nextLoad) {
  return capture(url, await nextLoad(url, context));
}

/** In-thread hook (module.registerHooks, which tsx uses where Node has it, e.g. Node 24). */
export function loadSync(url, context, nextLoad) {
  return capture(url, nextLoad(url, context));
}
