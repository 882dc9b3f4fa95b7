import { createHash } from 'node:crypto';

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

  const useMatch = /^\s*use \S+\s*$/i.exec(text);
  if (useMatch) return 'use ?';

  text = text.replace(BOOLEAN, '?');
  text = text.replace(NUMBER_LIKE, '?');
  text = text.replace(NUMBER_LEFTOVER, '?');
  // As pt-query-digest: leading whitespace and one final newline go, trailing spaces stay.
  text = text.replace(LEADING_SPACE, '');
  if (text.endsWith('\n')) text = text.slice(0, -1);
  text = text.replace(WHITESPACE_RUN, ' ').toLowerCase();
  if (text.includes('null')) text = text.replace(NULL_WORD, '?');
  if (text.includes('in') || text.includes('value')) text = text.replace(IN_OR_VALUES_LIST, '$1(?+)');
  if (text.includes('union')) text = text.replace(REPEATED_UNION, '$1 /*repeat$2*/');
  if (text.includes('limit ?')) text = text.replace(LIMIT_OFFSET, 'limit ?');
  if (text.includes('order by ')) text = dropAscAfterOrderBy(text);
  return text;
}

/** The group ID pt-query-digest 2.x printed (`0x…`): the last 16 hex digits of the MD5, upper case. */
export function fingerprintId(fp: string): string {
  return createHash('md5').update(fp, 'utf8').digest('hex').slice(-16).toUpperCase();
}

const BOOLEAN = /\bfalse\b|\btrue\b/gi;
// pt-query-digest's "things resembling numbers" rule, case-sensitive as it runs before lower-casing.
const NUMBER_LIKE = /[0-9+-][0-9a-f.xb+-]*/g;
const NUMBER_LEFTOVER = /[xb.+-]\?/g;
const LEADING_SPACE = /^\s+/;
const WHITESPACE_RUN = /[ \n\t\r\f]+/g;
const NULL_WORD = /\bnull\b/g;
const IN_OR_VALUES_LIST = /\b(in|values?)(?:[\s,]*\([\s?,]*\))+/g;
const REPEATED_UNION = /\b(select\s.*?)(?:(\sunion(?:\sall)?)\s\1)+/g;
const LIMIT_OFFSET = /\blimit \?(?:, ?\?| offset \?)?/;

function specialCase(query: string): string | undefined {
  if (query.startsWith('SELECT /*!40001 SQL_NO_CACHE */ * FROM `')) return 'mysqldump';
  if (query.includes('/*') && /\/\*\w+\.\w+:[0-9]\/[0-9]\*\//.test(query)) return 'percona-toolkit';
  if (query.startsWith('administrator command: ')) return query;
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
  return (
    (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) || c === 0x5f || c === 0x24 || c > 0x7f
  );
}

/** pt-query-digest drops ASC after ORDER BY, because it is the default direction. */
function dropAscAfterOrderBy(text: string): string {
  const at = text.search(/\border by /);
  if (at < 0) return text;
  return text.slice(0, at) + text.slice(at).replace(/\s+asc\b/g, '');
}
