import { createHash } from 'node:crypto';
import { detach } from './entry.js';

/**
 * Query fingerprinting with pt-query-digest's normalisation (QueryRewriter::fingerprint in
 * percona-toolkit 3.x), so that groups and IDs line up with what DBAs already know, except for
 * pt-query-digest's defects, which come from doing everything with regexes over the raw text:
 *
 *  - a doubled quote inside a string (`'it''s'`) became two literals (`??`);
 *  - upper-case hex literals were split (`0x1F3A` → `?f?a`);
 *  - comment markers inside strings and quotes inside comments were not told apart.
 *
 * Here comments, strings, back-quoted identifiers and hex literals are found by one scanner that
 * knows which of them it is inside; the remaining steps are pt-query-digest's own rules, applied to
 * text that no longer holds strings or comments. The number rule is deliberately pt-query-digest's
 * broad one (it also turns `t1` into `t?`), because changing it would split groups DBAs compare
 * against pt-query-digest's reports.
 */
export function fingerprint(query: string): string {
  const special = specialCase(query);
  if (special !== undefined) return special;

  let text = stripCommentsAndLiterals(query);

  if ((text.charCodeAt(0) | 0x20) === 0x75 /* u */ || isSpace(text.charCodeAt(0))) {
    if (USE_ONLY.test(text)) return 'use ?';
  }

  text = normaliseLiteralsAndSpace(text);
  // Most statements of one shape normalise to the same text: the last steps are remembered.
  const known = finalSteps.get(text);
  if (known !== undefined) return known;
  const normalised = text;
  if (text.includes('null')) text = text.replace(NULL_WORD, '?');
  if (text.includes('in (') || text.includes('in(') || text.includes('value')) {
    text = text.replace(IN_OR_VALUES_LIST, '$1(?+)');
  }
  if (text.includes('union')) text = text.replace(REPEATED_UNION, '$1 /*repeat$2*/');
  if (text.includes('limit ?')) text = text.replace(LIMIT_OFFSET, 'limit ?');
  if (text.includes('order by ')) text = dropAscAfterOrderBy(text);
  if (normalised.length <= 4096) {
    if (finalSteps.size >= 20_000) finalSteps.clear();
    // Copies: the texts may be slices of a read chunk, which they would keep alive.
    finalSteps.set(detach(normalised), detach(text));
  }
  return text;
}

/** normalised text → fingerprint; bounded (cleared when full), short texts only. */
const finalSteps = new Map<string, string>();

/** The group ID pt-query-digest 2.x printed (`0x…`): the last 16 hex digits of the MD5, upper case. */
export function fingerprintId(fp: string): string {
  return createHash('md5').update(fp, 'utf8').digest('hex').slice(-16).toUpperCase();
}

const USE_ONLY = /^\s*use \S+\s*$/i;
const NULL_WORD = /\bnull\b/g;
const IN_OR_VALUES_LIST = /\b(in|values?)(?:[\s,]*\([\s?,]*\))+/g;
const REPEATED_UNION = /\b(select\s.*?)(?:(\sunion(?:\sall)?)\s\1)+/g;
const LIMIT_OFFSET = /\blimit \?(?:, ?\?| offset \?)?/;

function specialCase(query: string): string | undefined {
  if (query.startsWith('SELECT /*!40001 SQL_NO_CACHE */ * FROM `')) return 'mysqldump';
  if (query.includes('/*') && /\/\*\w+\.\w+:[0-9]\/[0-9]\*\//.test(query)) return 'percona-toolkit';
  if (query.startsWith('administrator command: ')) return query;
  const first = query.charCodeAt(0) | 0x20;
  if (first !== 0x63 /* c */ && !isSpace(query.charCodeAt(0))) return undefined;
  const call = /^\s*(call\s+\S+)\(/i.exec(query);
  if (call) return call[1]!.toLowerCase();
  return undefined;
}

/** pt-query-digest keeps only the first row of a multi-row INSERT/REPLACE … VALUES (this also drops what follows, e.g. ON DUPLICATE KEY UPDATE). */
const MULTI_ROW_INSERT = /^(?:INSERT|REPLACE)(?: IGNORE)?\s+INTO\s/i;

/**
 * Removes comments (keeping `/*!…*\/` version comments, as pt-query-digest does), replaces string
 * and hex literals with `?`, copies back-quoted identifiers unchanged, and cuts a multi-row INSERT
 * after its first row.
 */
export function stripCommentsAndLiterals(query: string): string {
  const n = query.length;
  const isInsert = MULTI_ROW_INSERT.test(query);
  let out = '';
  let copyFrom = 0; // start of the pending run of characters copied unchanged
  let depth = 0;
  let valuesAt = -1; // output length at which VALUES was seen (multi-row INSERT only)
  let i = 0;
  while (i < n) {
    const c = query.charCodeAt(i);
    if (c === 0x27 /* ' */ || c === 0x22 /* " */) {
      out += query.slice(copyFrom, i) + '?';
      i = endOfString(query, i, c);
      copyFrom = i;
      continue;
    }
    if (c === 0x60 /* ` */) {
      const close = query.indexOf('`', i + 1);
      i = close < 0 ? n : close + 1;
      continue;
    }
    if (c === 0x2f /* / */ && query.charCodeAt(i + 1) === 0x2a /* * */ && query.charCodeAt(i + 2) !== 0x21 /* ! */) {
      const close = query.indexOf('*/', i + 2);
      out += query.slice(copyFrom, i);
      i = close < 0 ? n : close + 2;
      copyFrom = i;
      continue;
    }
    if (c === 0x23 /* # */ || (c === 0x2d /* - */ && query.charCodeAt(i + 1) === 0x2d)) {
      let eol = query.indexOf('\n', i);
      if (eol < 0) eol = n;
      out += query.slice(copyFrom, i);
      i = eol;
      copyFrom = i;
      continue;
    }
    if (c === 0x30 /* 0 */ && (query.charCodeAt(i + 1) | 0x20) === 0x78 /* x */ && !isWordChar(query.charCodeAt(i - 1))) {
      let j = i + 2;
      while (j < n && isHexDigit(query.charCodeAt(j))) j++;
      if (j > i + 2 && !isWordChar(query.charCodeAt(j))) {
        out += query.slice(copyFrom, i) + '?';
        i = j;
        copyFrom = i;
        continue;
      }
    }
    if (c === 0x28 /* ( */ && !isInsert) {
      // `IN (1, 2, 'a', …)`: a list of plain literals becomes `(?)` at once, which the IN rule
      // below turns into `(?+)` as it does the whole list. Lists of thousands of items are common.
      const close = literalListEnd(query, i);
      if (close > 0) {
        out += query.slice(copyFrom, i) + '(?)';
        i = close;
        copyFrom = i;
        continue;
      }
    }
    if (isInsert) {
      if (c === 0x28 /* ( */) depth++;
      else if (c === 0x29 /* ) */) {
        depth--;
        if (depth === 0 && valuesAt >= 0 && nextRowFollows(query, i + 1)) {
          return out + query.slice(copyFrom, i + 1);
        }
      } else if (depth === 0 && valuesAt < 0 && (c | 0x20) === 0x76 /* v */ && /^values\s*\(/i.test(query.slice(i, i + 40))) {
        valuesAt = i;
      }
    }
    i++;
  }
  return out + query.slice(copyFrom, n);
}

/** Index just past the string literal opened at `start` by `quote`; handles `\x` escapes and doubled quotes. */
function endOfString(query: string, start: number, quote: number): number {
  const n = query.length;
  let i = start + 1;
  while (i < n) {
    const c = query.charCodeAt(i);
    if (c === 0x5c /* \ */) {
      i += 2;
      continue;
    }
    if (c === quote) {
      if (query.charCodeAt(i + 1) === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return n;
}

/**
 * For the `(` at `open` that follows the word IN (`… IN (`, `… in(`), and opens a list of at least
 * LITERAL_LIST_MIN plain literals (quoted strings, and decimal numbers with an optional sign)
 * separated by commas: the index just past its `)`. Otherwise 0. Such a list normalises to
 * `?, ?, …` and so to `(?+)` whatever it holds; anything else (an expression, a comment, a
 * subquery, hex) is left to the general rules.
 */
function literalListEnd(query: string, open: number): number {
  let k = open - 1;
  while (k >= 0 && isSpace(query.charCodeAt(k))) k--;
  if (k < 2 || (query.charCodeAt(k) | 0x20) !== 0x6e /* n */ || (query.charCodeAt(k - 1) | 0x20) !== 0x69 /* i */) return 0;
  const before = query.charCodeAt(k - 2);
  if (!isSpace(before) && before !== 0x29 /* ) */) return 0;
  const n = query.length;
  let i = open + 1;
  let items = 0;
  for (;;) {
    while (isSpace(query.charCodeAt(i))) i++;
    let c = query.charCodeAt(i);
    if (c === 0x27 /* ' */ || c === 0x22 /* " */) {
      i = endOfString(query, i, c);
      if (i >= n && query.charCodeAt(n - 1) !== c) return 0;
    } else {
      if (c === 0x2d /* - */ || c === 0x2b /* + */) c = query.charCodeAt(++i);
      if (!(c >= 0x30 && c <= 0x39)) return 0;
      while (i < n && ((c = query.charCodeAt(i)) === 0x2e || (c >= 0x30 && c <= 0x39))) i++;
    }
    items++;
    while (isSpace(query.charCodeAt(i))) i++;
    c = query.charCodeAt(i);
    if (c === 0x2c /* , */) {
      i++;
      continue;
    }
    if (c === 0x29 /* ) */) return items >= LITERAL_LIST_MIN ? i + 1 : 0;
    return 0;
  }
}

const LITERAL_LIST_MIN = 4;

function nextRowFollows(query: string, from: number): boolean {
  let i = from;
  while (isSpace(query.charCodeAt(i))) i++;
  if (query.charCodeAt(i) !== 0x2c /* , */) return false;
  i++;
  while (isSpace(query.charCodeAt(i))) i++;
  return query.charCodeAt(i) === 0x28;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d || c === 0x0c;
}

function isHexDigit(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
}

function isWordChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) || c === 0x5f || c === 0x24 || c > 0x7f;
}

/**
 * One pass doing pt-query-digest's middle steps, in its order and with its exact effects:
 *   s/\bfalse\b|\btrue\b/?/ig;  s/[0-9+-][0-9a-f.xb+-]*\/?/g;  s/[xb.+-]\?/?/g;
 *   strip leading space and one final newline;  tr/ \n\t\r\f/ /s;  lc (ASCII only, as Perl on bytes).
 * The number rule is case-sensitive because pt-query-digest applies it before lower-casing.
 */
export function normaliseLiteralsAndSpace(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isPerlSpace(text.charCodeAt(start))) start++;
  if (end > start && text.charCodeAt(end - 1) === 0x0a) end--;
  let out = '';
  let runFrom = start; // pending run of characters copied unchanged (lower-cased at the end)
  let lastOriginal = -1; // the character before i as it was before any change, -1 after a '?'
  let i = start;
  while (i < end) {
    const c = text.charCodeAt(i);
    if (c === 0x3f /* ? */) {
      if (isLeftoverBeforeQuestion(lastOriginal)) {
        out += text.slice(runFrom, i - 1);
        runFrom = i;
      }
      lastOriginal = -1;
      i++;
      continue;
    }
    if ((c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d) {
      let j = i + 1;
      while (j < end && isNumberTail(text.charCodeAt(j))) j++;
      out += text.slice(runFrom, isLeftoverBeforeQuestion(lastOriginal) ? i - 1 : i) + '?';
      runFrom = j;
      lastOriginal = -1;
      i = j;
      continue;
    }
    if (isPerlSpace(c)) {
      let j = i + 1;
      while (j < end && isPerlSpace(text.charCodeAt(j))) j++;
      if (j > i + 1 || c !== 0x20) {
        out += text.slice(runFrom, i) + ' ';
        runFrom = j;
      }
      lastOriginal = 0x20;
      i = j;
      continue;
    }
    if ((c | 0x20) === 0x74 /* t */ || (c | 0x20) === 0x66 /* f */) {
      const word = (c | 0x20) === 0x74 ? 4 : 5;
      if (
        !isWordChar(text.charCodeAt(i - 1)) &&
        !isWordChar(text.charCodeAt(i + word)) &&
        i + word <= end &&
        isWord(text, i, word === 4 ? 'true' : 'false')
      ) {
        out += text.slice(runFrom, isLeftoverBeforeQuestion(lastOriginal) ? i - 1 : i) + '?';
        runFrom = i + word;
        lastOriginal = -1;
        i += word;
        continue;
      }
    }
    lastOriginal = c;
    i++;
  }
  out += text.slice(runFrom, end);
  return asciiLowerCase(out);
}

function isWord(text: string, at: number, lower: string): boolean {
  for (let k = 0; k < lower.length; k++) {
    if ((text.charCodeAt(at + k) | 0x20) !== lower.charCodeAt(k)) return false;
  }
  return true;
}

function isLeftoverBeforeQuestion(c: number): boolean {
  return c === 0x78 /* x */ || c === 0x62 /* b */ || c === 0x2e || c === 0x2b || c === 0x2d;
}

function isNumberTail(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || c === 0x2e || c === 0x78 || c === 0x62 || c === 0x2b || c === 0x2d;
}

function isPerlSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d || c === 0x0c;
}

function asciiLowerCase(text: string): string {
  return NON_ASCII.test(text) ? text.replace(/[A-Z]+/g, (s) => s.toLowerCase()) : text.toLowerCase();
}

const NON_ASCII = /[^\x00-\x7f]/;

/** pt-query-digest drops ASC after ORDER BY, because it is the default direction. */
function dropAscAfterOrderBy(text: string): string {
  const at = text.search(/\border by /);
  if (at < 0) return text;
  return text.slice(0, at) + text.slice(at).replace(/\s+asc\b/g, '');
}
