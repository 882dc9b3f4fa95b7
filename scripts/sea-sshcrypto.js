// Appended to the single executable's bundle by scripts/build-binary.sh, which also points ssh2's
// `require('./crypto/build/Release/sshcrypto.node')` here: loads ssh2's native crypto binding, built for the
// executable's Node and embedded as a SEA asset. A native module loads only from a file, so it is written once to the
// user's cache folder (a private 0700 folder; the file is named by its sha256 and checked against it before every
// load). Any failure throws, and ssh2 then uses its JavaScript ciphers, as it does without the binding.
/* global Buffer */
function __onedumpLoadSeaSshcrypto() {
  try {
    return __onedumpLoadSeaSshcryptoFile();
  } catch (err) {
    // src/ssh/client.ts (cryptoBindingNotice) reports it at the first SSH connection.
    globalThis.__onedumpSshcryptoError = String((err && err.message) || err);
    throw err;
  }
}
function __onedumpLoadSeaSshcryptoFile() {
  const { createHash } = require('node:crypto');
  const fs = require('node:fs');
  const os = require('node:os');
  const path = require('node:path');
  const sea = require('node:sea');
  if (!sea.isSea()) throw new Error('not running as a single executable');
  const bytes = Buffer.from(sea.getRawAsset('sshcrypto.node'));
  const digest = createHash('sha256').update(bytes).digest('hex');
  const xdg = process.env.XDG_CACHE_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.cache');
  // One level at a time and only below an existing folder: a recursive mkdir can spin forever on odd paths (/proc).
  // The cache folder itself is created when missing (a fresh account has no ~/.cache), as the XDG spec asks: 0700.
  if (!fs.statSync(path.dirname(base)).isDirectory()) throw new Error(`${path.dirname(base)} is not a folder`);
  let dir = path.dirname(base);
  for (const part of [path.basename(base), 'onedump', 'native']) {
    dir = path.join(dir, part);
    try {
      fs.mkdirSync(dir, { mode: 0o700 });
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
  }
  const st = fs.statSync(dir);
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) throw new Error(`${dir} is not owned by this user`);
  if ((st.mode & 0o077) !== 0) fs.chmodSync(dir, 0o700);
  const file = path.join(dir, `sshcrypto-${digest.slice(0, 16)}.node`);
  const current = fs.existsSync(file) ? createHash('sha256').update(fs.readFileSync(file)).digest('hex') : '';
  if (current !== digest) {
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, bytes, { mode: 0o500 });
    fs.renameSync(tmp, file);
  }
  const mod = { exports: {} };
  process.dlopen(mod, file);
  return mod.exports;
}
