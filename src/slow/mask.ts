/**
 * The Go tool's `--mask`: literal numbers and quoted strings become `?`, everything else (case,
 * spacing, comments) stays, so the reported sample still reads like the query that ran.
 * Unlike the Go tool's regexes, a doubled or escaped quote does not end a string, digits inside
 * identifiers (`t1`) are kept, and `1.5` becomes one `?`.
 */
export function maskQuery(query: string): string {
  const n = query.length;
  // Pieces joined once: `out += piece + '?'` made a rope of thousands of nodes (and a copy of every
  // short piece) for a statement with thousands of literals, tens of megabytes for one report.
  const out: string[] = [];
  let copyFrom = 0;
  let i = 0;
  while (i < n) {
    const c = query.charCodeAt(i);
    if (c === 0x27 || c === 0x22) {
      out.push(query.slice(copyFrom, i), '?');
      i = skipString(query, i, c);
      copyFrom = i;
    } else if (c === 0x60) {
      const close = query.indexOf('`', i + 1);
      i = close < 0 ? n : close + 1;
    } else if (isDigit(c) && !isWordChar(query.charCodeAt(i - 1))) {
      let j = i + 1;
      if (c === 0x30 && (query.charCodeAt(j) | 0x20) === 0x78) {
        j++;
        while (j < n && isHex(query.charCodeAt(j))) j++;
      } else {
        while (j < n && (isDigit(query.charCodeAt(j)) || query.charCodeAt(j) === 0x2e)) j++;
        if ((query.charCodeAt(j) | 0x20) === 0x65 && /^[eE][+-]?\d/.test(query.slice(j, j + 3))) {
          j += 2;
          while (j < n && isDigit(query.charCodeAt(j))) j++;
        }
      }
      if (isWordChar(query.charCodeAt(j))) {
        i = j; // part of an identifier such as 1st_col
        continue;
      }
      out.push(query.slice(copyFrom, i), '?');
      i = j;
      copyFrom = i;
    } else {
      i++;
    }
  }
  out.push(query.slice(copyFrom));
  return out.join('');
}

function skipString(query: string, start: number, quote: number): number {
  let i = start + 1;
  while (i < query.length) {
    const c = query.charCodeAt(i);
    if (c === 0x5c) i += 2;
    else if (c === quote && query.charCodeAt(i + 1) === quote) i += 2;
    else if (c === quote) return i + 1;
    else i++;
  }
  return query.length;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isHex(c: number): boolean {
  return isDigit(c) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
}

function isWordChar(c: number): boolean {
  return isDigit(c) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) || c === 0x5f || c === 0x24 || c > 0x7f;
}
