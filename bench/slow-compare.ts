// Compares the per-fingerprint counts of `onedump slow --format json` with pt-query-digest's
// `--output json` on the same log, and explains every difference or fails.
//
//   npx tsx bench/slow-compare.ts ONEDUMP.json PT.json [LABEL]
//
// pt-query-digest has known defects (docs/slow.md, "Fingerprints, and differences from
// pt-query-digest"). A pt-query-digest class whose own example statement fingerprints (with our
// fingerprint) to another class is one it built wrongly: its entries are moved to the class we put
// that example in, and the class is listed with the reason, read from the example. What is left must
// agree count for count; anything else is a difference nobody explained, and the exit code is 1.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { fingerprint, fingerprintId } from '../src/slow/fingerprint.js';

export interface Ours {
  entries: number;
  skipped: number;
  results: { fingerprint_id: string; count: number; fingerprint: string }[];
}
export interface Pt {
  classes: { checksum: string; query_count: number; fingerprint: string; example?: { query?: string } }[];
}
/** Length at which pt-query-digest cuts the example statement of a class. */
const PT_EXAMPLE_LIMIT = 10_000;

/** Why pt-query-digest fingerprinted this statement wrongly, read from the statement itself. */
function reason(example: string): string {
  const why: string[] = [];
  if (/\\\\['"]/.test(example))
    why.push(
      "an escaped backslash before a closing quote ('a\\\\'): pt-query-digest deletes \\' and \\\" pairs before it finds strings, so the literal runs on",
    );
  if (/[^\\]''|[^\\]""/.test(example)) why.push("a doubled quote in a string ('O''Brien'): pt-query-digest makes two literals (??)");
  if (/\b0x[0-9a-fA-F]*[A-F][0-9a-fA-F]*\b/.test(example))
    why.push('an upper-case hex literal (0xDEADBEEF): pt-query-digest lower-cases after it replaces numbers (?deadbeef)');
  if (/'[^']*\/\*[^']*\*\/[^']*'/.test(example))
    why.push(
      'a /* … */ inside a string literal: pt-query-digest removes comments before it finds strings, which can join the literal to what follows',
    );
  if (why.length > 0) return why.join('; ');
  if (/(^|\s)(-- |#)[^\n]*['"]/m.test(example)) why.push('a quote in a -- or # comment: pt-query-digest pairs it with the next quote');
  if (/;\s*\n\s*\n/.test(example) || /\n# (Time|User@Host):/.test(example))
    why.push('two entries glued together (a blank line or a cut statement before the next header)');
  return why.join('; ');
}

/** The statements of an example that holds several entries (their header lines between them). */
function entriesOf(example: string): string[] {
  if (!/;[ \t]*\n\s*\n?# (?:Time|User@Host):/.test(example)) return [example];
  return example
    .split(/;[ \t]*\n\s*(?=# (?:Time|User@Host):)/)
    .map((piece) =>
      piece
        .split('\n')
        .filter((line, i, lines) => !lines.slice(0, i + 1).every((l) => /^(?:#|SET timestamp=|use |\s*$)/.test(l)))
        .join('\n')
        .replace(/;\s*$/, ''),
    )
    .filter((q) => q.trim() !== '');
}

export interface Comparison {
  /** Lines to print. */
  lines: string[];
  ok: boolean;
  /** pt-query-digest classes explained as its defects. */
  defects: number;
}

/** Compares the two reports; `ok` when every difference is one of pt-query-digest's known defects. */
export function compare(ours: Ours, pt: Pt, label = ''): Comparison {
  const lines: string[] = [];
  const ourCount = new Map(ours.results.map((r) => [r.fingerprint_id, r.count]));
  const expected = new Map<string, number>(); // pt-query-digest's counts with its misgrouped classes moved
  const moved: { id: string; count: number; to: string; fp: string; why: string }[] = [];
  for (const c of pt.classes) {
    const id = c.checksum.slice(-16).toUpperCase();
    const example = c.example?.query ?? '';
    const pieces = entriesOf(example);
    if (pieces.length > 1) {
      // Entries glued together (pt-query-digest only splits at `;\n#`): each piece is one of ours.
      const to = pieces.map((q) => fingerprintId(fingerprint(q)));
      moved.push({
        id,
        count: c.query_count,
        to: to.join('+'),
        fp: c.fingerprint,
        why: 'entries glued together: a blank line between entries (`;\\n\\n# Time:`) or a statement cut short; pt-query-digest counts them as one',
      });
      for (const t of to) expected.set(t, (expected.get(t) ?? 0) + c.query_count);
      continue;
    }
    let to = example ? fingerprintId(fingerprint(example.replace(/;\s*$/, ''))) : id;
    let why = reason(example);
    if (example.length >= PT_EXAMPLE_LIMIT && !ourCount.has(to)) {
      // pt-query-digest cuts its examples at 10,000 characters: the defect may be past the cut.
      // Its own fingerprint, with the defects' leftovers (`??`, `?deadbeef`) undone, names the class.
      const repaired = c.fingerprint.replace(/\?{2,}/g, '?').replace(/\?(?=[0-9a-f]*[a-f])[0-9a-f]+\b/g, '?');
      const found = ours.results.find((r) => r.fingerprint === repaired);
      if (found) {
        to = found.fingerprint_id;
        why = [
          /\?\?/.test(c.fingerprint) ? "a doubled quote in a string ('O''Brien'): pt-query-digest makes two literals (??)" : '',
          /\?[0-9a-f]*[a-f][0-9a-f]*\b/.test(c.fingerprint)
            ? 'an upper-case hex literal (0xDEADBEEF): pt-query-digest lower-cases after it replaces numbers (?deadbeef)'
            : '',
        ]
          .filter(Boolean)
          .join('; ');
        if (why) why += ' (past the 10,000 characters of its example)';
      }
    }
    let target = id;
    if (to !== id && !ourCount.has(id)) {
      target = to;
      moved.push({ id, count: c.query_count, to, fp: c.fingerprint, why });
    }
    expected.set(target, (expected.get(target) ?? 0) + c.query_count);
  }

  // pt-query-digest counts an entry with no statement as `/* No query */` (fingerprint ""); onedump
  // counts it in `skipped`. Those can only be told apart in the total of that one class.
  const EMPTY = fingerprintId('');
  const noQuery = pt.classes.some((c) => c.example?.query === '/* No query */' && c.checksum.slice(-16).toUpperCase() === EMPTY);
  if (noQuery) {
    const gap = (expected.get(EMPTY) ?? 0) - (ourCount.get(EMPTY) ?? 0);
    if (gap > 0 && gap <= ours.skipped) {
      expected.set(EMPTY, ourCount.get(EMPTY) ?? 0);
      if (expected.get(EMPTY) === 0) expected.delete(EMPTY);
      moved.push({
        id: EMPTY,
        count: gap,
        to: 'skipped',
        fp: '',
        why: 'entries with no statement: pt-query-digest counts them as /* No query */, onedump in `skipped`',
      });
    }
  }

  let unexplained = 0;
  for (const [id, n] of expected) {
    if (ourCount.get(id) !== n) {
      unexplained++;
      lines.push(`  DIFFERS ${id}: pt-query-digest ${n}, onedump ${ourCount.get(id) ?? 0}`);
    }
  }
  for (const [id, n] of ourCount) {
    if (!expected.has(id)) {
      unexplained++;
      lines.push(`  ONLY ONEDUMP ${id}: ${n}`);
    }
  }
  const noReason = moved.filter((m) => m.why === '');
  const byReason = new Map<string, typeof moved>();
  for (const m of moved) byReason.set(m.why || 'NO KNOWN REASON', [...(byReason.get(m.why || 'NO KNOWN REASON') ?? []), m]);
  const prefix = label ? `${label}: ` : '';
  for (const [why, list] of byReason) {
    const entries = list.reduce((s, m) => s + m.count, 0);
    lines.push(`${prefix}pt-query-digest wrong in ${list.length} classes (${entries} entries): ${why}`);
    for (const m of list.slice(0, 3)) lines.push(`    ${m.id} (${m.count}) -> ${m.to}: ${JSON.stringify(m.fp.slice(0, 140))}`);
    if (list.length > 3) lines.push(`    … ${list.length - 3} more`);
  }
  const ptEntries = pt.classes.reduce((s, c) => s + c.query_count, 0);
  if (unexplained === 0 && noReason.length === 0) {
    lines.push(
      `${prefix}per-fingerprint counts agree: ${ours.results.length} groups, ${ours.entries} entries (pt-query-digest ${pt.classes.length} classes, ${ptEntries} entries; ${moved.length} of its classes are its defects, listed above)`,
    );
  } else {
    lines.push(`${prefix}${unexplained} groups differ and ${noReason.length} pt-query-digest classes have no known reason`);
    return { lines, ok: false, defects: moved.length };
  }
  return { lines, ok: true, defects: moved.length };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [oursPath, ptPath, label = ''] = process.argv.slice(2);
  if (!oursPath || !ptPath) {
    console.error('usage: npx tsx bench/slow-compare.ts ONEDUMP.json PT.json [LABEL]');
    process.exit(2);
  }
  const result = compare(JSON.parse(readFileSync(oursPath, 'utf8')) as Ours, JSON.parse(readFileSync(ptPath, 'utf8')) as Pt, label);
  for (const line of result.lines) console.log(line);
  process.exit(result.ok ? 0 : 1);
}
