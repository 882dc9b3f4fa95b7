import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';

const FOLDERS = ['', 'a', 'a/b', 'a/b/c', 'ünïcødé', '日本語/データ', 'spaces in name', 'emoji 🎉'];
const MiB = 1024 * 1024;

/**
 * The sync test tree: `count` files, sizes 0 B to 50 MB (one 50 MB, four of 4 MB, the rest up to 200 KiB, about
 * 110 MB in all for 300), nested folders and unicode names. Returns relative paths.
 */
export function makeTree(root: string, count = 300): string[] {
  const rels: string[] = [];
  for (let i = 0; i < count; i++) {
    const folder = FOLDERS[i % FOLDERS.length]!;
    const name = i % 7 === 3 ? `fïlé-${i}-ß.dat` : i % 11 === 5 ? `文件-${i}.bin` : `file-${i}.bin`;
    const size = i === 0 ? 0 : i === 1 ? 50 * MiB : i < 6 ? 4 * MiB : i === 6 ? 1 : Math.floor((i * 7919) % (200 * 1024));
    const rel = folder ? `${folder}/${name}` : name;
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, size ? randomBytes(size) : Buffer.alloc(0));
    rels.push(rel);
  }
  return rels.sort();
}

/** Every regular file under root (skipping the given names) → sha256, by relative path with forward slashes. */
export function treeHashes(root: string, skip: (rel: string) => boolean = () => false): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) {
        const rel = relative(root, p).split(sep).join('/');
        if (!skip(rel)) out.set(rel, createHash('sha256').update(readFileSync(p)).digest('hex'));
      }
    }
  };
  walk(root);
  return out;
}

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Reads a checksum.onedump file into its lines (the Go format: sha256 per line, no trailing newline). */
export function stateLines(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  return text === '' ? [] : text.split('\n');
}
