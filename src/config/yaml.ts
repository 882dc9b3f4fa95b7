import { Composer, CST, Lexer, LineCounter, Parser, isAlias, isMap, isPair, isScalar, isSeq, type Document } from 'yaml';

/**
 * Reading config YAML with limits. The yaml library composes recursively (a few thousand levels of `[[[[` overflow
 * the stack), checks duplicate keys in quadratic time (100,000 keys take minutes) and builds several hundred bytes
 * of tree per node (400,000 `{}` take over a gigabyte). A config is small and shallow — jobs[0].storage.s3[0].x is
 * six levels, a thousand jobs some 20,000 nodes — so a file far beyond that is refused, in one sentence, by a
 * streaming scan before anything is built.
 */

/** Nesting levels a config may use (it needs fewer than ten). */
export const MAX_DEPTH = 50;
/** Keys, values and list items a config may hold (about 5,000 jobs). */
export const MAX_NODES = 100_000;
/** How many times aliases (`*name`) may expand (the yaml library's own guard against "billion laughs"). */
const MAX_ALIAS_COUNT = 100;
/** Longest piece of the file quoted back in a message. */
const QUOTE_MAX = 60;

/** A refusal of the whole file: one sentence, no path. */
export class YamlProblem extends Error {}

/** Quotes a piece of user text for a message: printable, and short. */
export function quote(text: string, max = QUOTE_MAX): string {
  const printable = text.replace(/[\p{Cc}\p{Cs}\uFFFD]/gu, '?');
  const shown = printable.length > max ? `${printable.slice(0, max)}…` : printable;
  return JSON.stringify(shown);
}

/**
 * Decodes a config file's bytes. UTF-8 (with or without a byte-order mark) and, as the Go tool's YAML library reads
 * them, UTF-16 files that start with a byte-order mark. Anything else that is not UTF-8 text is refused.
 */
export function decodeConfigBytes(bytes: Uint8Array): string {
  const b = bytes;
  if (b[0] === 0xff && b[1] === 0xfe) return decodeStrict('utf-16le', b.subarray(2));
  if (b[0] === 0xfe && b[1] === 0xff) return decodeStrict('utf-16be', b.subarray(2));
  const nul = b.indexOf(0);
  if (nul !== -1) {
    const utf16 = b.length >= 4 && (b[1] === 0 || b[0] === 0) && (b[3] === 0 || b[2] === 0);
    throw new YamlProblem(
      utf16
        ? 'looks like UTF-16 text without a byte-order mark; save it as UTF-8 (or UTF-16 with a BOM)'
        : `is not a text file (byte ${nul} is a NUL byte); a config is YAML text`,
    );
  }
  const text = decodeStrict('utf-8', b);
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function decodeStrict(encoding: 'utf-8' | 'utf-16le' | 'utf-16be', bytes: Uint8Array): string {
  try {
    return new TextDecoder(encoding, { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new YamlProblem(
      encoding === 'utf-8'
        ? 'is not UTF-8 text (it holds bytes that are not UTF-8, or is a binary file); a config is YAML text'
        : `starts with a ${encoding.toUpperCase()} byte-order mark but is not valid ${encoding.toUpperCase()} text`,
    );
  }
}

/** `line L, column C` of an offset. */
function at(lines: LineCounter, offset: number): string {
  const { line, col } = lines.linePos(offset);
  return `line ${line}, column ${col}`;
}

/**
 * A streaming pass over the lexer's tokens (constant memory) that refuses input too deep or too large to compose.
 * Flow nesting is counted exactly; block nesting from the columns where block nodes start (each level of a block
 * collection starts further right than its parent, or at the same column for a sequence under a key — so the count
 * is at least half the true depth, and the limit keeps the true depth well inside the stack).
 */
export function checkYamlSize(text: string): void {
  const lines = new LineCounter();
  lines.addNewLine(0);
  let offset = 0;
  let lineStart = 0;
  let flow = 0;
  const block: number[] = []; // columns of the open block levels
  let nodes = 0;
  let keyCandidate = -1; // column of the last node start on this line in block context, a key if ':' follows
  const enterBlock = (col: number) => {
    while (block.length && (block[block.length - 1] as number) >= col) block.pop();
    block.push(col);
  };
  for (const tok of new Lexer().lex(text)) {
    const type = CST.tokenType(tok);
    const col = offset - lineStart;
    switch (type) {
      case 'flow-map-start':
      case 'flow-seq-start':
        flow++;
        nodes++;
        break;
      case 'flow-map-end':
      case 'flow-seq-end':
        if (flow > 0) flow--;
        break;
      case 'seq-item-ind':
      case 'explicit-key-ind':
        nodes++;
        if (flow === 0) enterBlock(col);
        break;
      case 'map-value-ind':
        if (flow === 0 && keyCandidate >= 0) enterBlock(keyCandidate);
        break;
      case 'alias':
      case 'single-quoted-scalar':
      case 'double-quoted-scalar':
      case null: // plain scalar text
        nodes++;
        if (flow === 0) keyCandidate = col;
        break;
      case 'block-scalar-header':
      case 'doc-start':
        nodes++;
        break;
    }
    if (type === 'newline') keyCandidate = -1;
    if (flow + block.length > MAX_DEPTH) {
      throw new YamlProblem(
        `${at(lines, offset)}: the YAML is nested more than ${MAX_DEPTH} levels deep (a onedump config needs fewer than 10)`,
      );
    }
    if (nodes > MAX_NODES) {
      throw new YamlProblem(
        `${at(lines, offset)}: the file holds more than ${MAX_NODES} YAML values (keys, values and list items); a onedump config holds a few hundred, so this is not one`,
      );
    }
    // Track lines for positions (a token may span lines: quoted and block scalars).
    for (let nl = tok.indexOf('\n'); nl !== -1; nl = tok.indexOf('\n', nl + 1)) {
      lineStart = offset + nl + 1;
      lines.addNewLine(lineStart);
    }
    if (type !== 'doc-mode' && type !== 'scalar' && type !== 'flow-error-end') offset += tok.length;
  }
}

/**
 * Parses one YAML document into plain data, after checkYamlSize. Throws YamlProblem with the first syntax error
 * (later ones are most often its consequences), a duplicate key, or an alias expansion that is too large.
 */
export function parseYaml(text: string): unknown {
  checkYamlSize(text);
  const lines = new LineCounter();
  const parser = new Parser(lines.addNewLine);
  // Duplicate keys are checked below in linear time; merge keys (`<<: *defaults`) work as in the Go tool's library.
  const composer = new Composer({ uniqueKeys: false, merge: true });
  let doc: Document.Parsed | undefined;
  let extra = false;
  for (const d of composer.compose(parser.parse(text), true, text.length)) {
    if (doc) {
      extra = true;
      break;
    }
    doc = d;
  }
  if (!doc) return null;
  const errors = [...doc.errors];
  const first = errors[0];
  if (first) {
    const msg = (first.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    const more = errors.length > 1 ? `; ${errors.length - 1} more after it` : '';
    throw new YamlProblem(`${at(lines, first.pos[0])}: ${clipQuoted(msg)} (YAML syntax${more})`);
  }
  if (extra) throw new YamlProblem('holds more than one YAML document (--- separators); a config is one document');
  checkDuplicateKeys(doc.contents, lines);
  try {
    const data: unknown = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    checkExpanded(data);
    return data;
  } catch (err) {
    if (err instanceof ReferenceError && /alias/i.test(err.message)) {
      throw new YamlProblem(
        'uses YAML aliases (*name) that expand to too much data (an alias bomb?); write the values out or use fewer nested aliases',
      );
    }
    throw err;
  }
}

/**
 * Aliases can build what the text does not show: a list that contains itself, or nesting deeper than the file's
 * (an alias of a deep list inside another). Everything after parsing walks the data recursively, so refuse both.
 */
function checkExpanded(data: unknown): void {
  const onPath = new Set<object>();
  const stack: Array<{ value: object; depth: number; leave?: boolean }> = [];
  if (data && typeof data === 'object') stack.push({ value: data, depth: 1 });
  let visits = 0;
  while (stack.length) {
    const top = stack.pop()!;
    if (top.leave) {
      onPath.delete(top.value);
      continue;
    }
    if (onPath.has(top.value)) throw new YamlProblem('uses a YAML alias (*name) inside the value it names, which would never end');
    if (top.depth > 2 * MAX_DEPTH)
      throw new YamlProblem(`uses YAML aliases (*name) that nest the data more than ${2 * MAX_DEPTH} levels deep`);
    if (++visits > 4 * MAX_NODES) {
      throw new YamlProblem(
        'uses YAML aliases (*name) that expand to too much data (an alias bomb?); write the values out or use fewer nested aliases',
      );
    }
    onPath.add(top.value);
    stack.push({ ...top, leave: true });
    for (const v of Object.values(top.value)) if (v && typeof v === 'object') stack.push({ value: v as object, depth: top.depth + 1 });
  }
}

/** The yaml library's messages quote the offending token: keep that short and printable. */
function clipQuoted(msg: string): string {
  return msg.replace(/: (".*)$/s, (_m, q: string) => `: ${quote(safeJsonParse(q))}`);
}

function safeJsonParse(s: string): string {
  try {
    const v: unknown = JSON.parse(s);
    return typeof v === 'string' ? v : s;
  } catch {
    return s;
  }
}

/** Duplicate keys in one mapping (as the Go tool's library refuses them), in linear time. */
function checkDuplicateKeys(root: unknown, lines: LineCounter): void {
  const stack: unknown[] = [root];
  while (stack.length) {
    const node = stack.pop();
    if (isMap(node)) {
      const seen = new Map<string, number>();
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = pair.key;
        if (isScalar(key) && key.value !== '<<') {
          const name = String(key.value);
          const start = key.range?.[0] ?? 0;
          const prev = seen.get(name);
          if (prev !== undefined) {
            throw new YamlProblem(`${at(lines, start)}: the key ${quote(name)} appears twice in one mapping (first at ${at(lines, prev)})`);
          }
          seen.set(name, start);
        } else if (key && !isScalar(key)) stack.push(key);
        stack.push(pair.value);
      }
    } else if (isSeq(node)) {
      stack.push(...node.items);
    } else if (isAlias(node)) {
      /* resolved by toJS */
    }
  }
}
