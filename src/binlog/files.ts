import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { OnedumpError, UsageError } from '../util/errors.js';

export interface BinlogFileRef {
  name: string;
  path: string;
  /** The numeric suffix (mysql-bin.000042 → 42). */
  seq: number;
  prefix: string;
}

const NAME_RE = /^(.+)\.(\d+)$/;

export function splitBinlogName(name: string): { prefix: string; seq: number } | undefined {
  const m = NAME_RE.exec(name);
  return m ? { prefix: m[1] as string, seq: Number(m[2]) } : undefined;
}

/** The binlog files of a folder (`prefix.NNNNNN`; the .index and anything else skipped), in numeric order. */
export async function listBinlogFiles(dir: string, prefix?: string): Promise<BinlogFileRef[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`the binlog folder ${dir} does not exist.`);
    if (code === 'ENOTDIR') throw new UsageError(`${dir} is not a folder; give the folder that holds the binlog files.`);
    throw new OnedumpError(`cannot list the binlog folder ${dir} (${code ?? (err as Error).message}).`, { cause: err });
  }
  const out: BinlogFileRef[] = [];
  for (const name of names) {
    const parts = splitBinlogName(name);
    if (!parts || (prefix !== undefined && parts.prefix !== prefix)) continue;
    const path = join(dir, name);
    const st = await stat(path).catch(() => undefined);
    if (!st?.isFile()) continue;
    out.push({ name, path, ...parts });
  }
  out.sort((a, b) => a.seq - b.seq || a.name.localeCompare(b.name));
  return out;
}

/**
 * The binlogs to replay: the start file and every later one of the same series. A gap in the numbering would
 * silently lose changes, so it is an error.
 */
/**
 * The consecutive binlogs from `startFile` on, up to the first missing one: `gap` names the files on either side
 * of it. A restore to an instant before the gap is whole; one after it would lose changes.
 */
export async function binlogChainFrom(dir: string, startFile: string): Promise<{ files: BinlogFileRef[]; gap?: { after: string; before: string } }> {
  try {
    return { files: await binlogsFrom(dir, startFile) };
  } catch (err) {
    const gap = (err as { gap?: { after: string; before: string; files: BinlogFileRef[] } }).gap;
    if (!gap) throw err;
    return { files: gap.files, gap: { after: gap.after, before: gap.before } };
  }
}

export async function binlogsFrom(dir: string, startFile: string): Promise<BinlogFileRef[]> {
  const start = splitBinlogName(startFile);
  const all = await listBinlogFiles(dir);
  if (all.length === 0) throw new UsageError(`no binlog files (name.NNNNNN) were found in ${dir}.`);
  if (!start) throw new UsageError(`"${startFile}" is not a binlog file name (expected something like mysql-bin.000042).`);
  const series = all.filter((f) => f.prefix === start.prefix);
  const i = series.findIndex((f) => f.name === startFile);
  if (i < 0) {
    const range = series.length ? ` (it has ${series[0]?.name} to ${series[series.length - 1]?.name})` : ` (it has no ${start.prefix}.* files)`;
    throw new UsageError(`the start binlog ${startFile} is not in ${dir}${range}.`);
  }
  const chosen = series.slice(i);
  for (let k = 1; k < chosen.length; k++) {
    const prev = chosen[k - 1] as BinlogFileRef;
    const cur = chosen[k] as BinlogFileRef;
    if (cur.seq !== prev.seq + 1) {
      throw Object.assign(
        new OnedumpError(`binlog files are missing from ${dir} between ${prev.name} and ${cur.name}; replaying across the gap would lose changes.`),
        { gap: { after: prev.name, before: cur.name, files: chosen.slice(0, k) } },
      );
    }
  }
  return chosen;
}
