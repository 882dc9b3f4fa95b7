import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CommanderError, type Command } from 'commander';
import { buildProgram } from '../../src/cli/main.js';
import { normalizeArgs } from '../../src/cli/go-argv.js';
import { errorMessage } from '../../src/util/errors.js';
import { ROOT } from '../../testutils/cli.js';

/** One `onedump …` command found in a fenced shell block of the documentation. */
export interface DocExample {
  file: string;
  line: number;
  /** The command's arguments after `onedump`, as the shell would pass them (quotes removed, $VARS left as written). */
  argv: string[];
  /** VAR=value assignments written before the command. */
  env: Record<string, string>;
  /** A synopsis line (`onedump slow [path] [flags]`): brackets dropped, UPPERCASE words are placeholders. */
  synopsis: boolean;
}

/** The documentation whose examples are checked: README.md, development.md and every guide in docs/. */
export function docFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`);
  return ['README.md', 'development.md', ...docs];
}

const SHELL_BLOCKS = new Set(['', 'sh', 'bash', 'shell', 'console', 'zsh']);
const OPERATORS = ['&&', '||', '<(', '$(', '|', ';', '&', '>>', '>', '<', '(', ')'];

type Token = { op: string } | { word: string };

/** Splits a shell line into words and operators: quotes and backslashes as sh reads them, `#` starts a comment. */
export function shellTokens(line: string): Token[] {
  const out: Token[] = [];
  let word: string | undefined;
  const flush = () => {
    if (word !== undefined) out.push({ word });
    word = undefined;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated ' in: ${line}`);
      word = (word ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let s = '';
      for (i++; i < line.length && line[i] !== '"'; i++) {
        if (line[i] === '\\' && '"\\$`'.includes(line[i + 1] ?? '')) i++;
        s += line[i];
      }
      if (i >= line.length) throw new Error(`unterminated " in: ${line}`);
      word = (word ?? '') + s;
    } else if (c === '\\') {
      word = (word ?? '') + (line[i + 1] ?? '');
      i++;
    } else if (c === '$' && line[i + 1] === '{') {
      const end = line.indexOf('}', i);
      word = (word ?? '') + line.slice(i, end + 1);
      i = end;
    } else if (/\s/.test(c)) {
      flush();
    } else if (c === '#' && word === undefined) {
      break;
    } else {
      const op = OPERATORS.find((o) => line.startsWith(o, i));
      // `$VAR` is part of a word; `$(` and `<(` open a command.
      if (op && !(c === '$' && op !== '$(')) {
        flush();
        out.push({ op });
        i += op.length - 1;
      } else word = (word ?? '') + c;
    }
  }
  flush();
  return out;
}

const isWord = (t: Token | undefined): t is { word: string } => t !== undefined && 'word' in t;
const ENTRY = /^(onedump|\.\/bin\/onedump\.js)$/;

/** The `onedump` commands of one (continuation-joined) shell line. */
export function commandsOfLine(line: string): Omit<DocExample, 'file' | 'line'>[] {
  const tokens = shellTokens(line.replace(/^\s*\$ /, ''));
  const found: Omit<DocExample, 'file' | 'line'>[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    const before = tokens[i - 1];
    // A word `onedump` that is not the target of a redirection (`> …/completions/onedump`).
    if (!isWord(t) || !ENTRY.test(t.word) || (before && 'op' in before && ['>', '>>', '<'].includes(before.op))) continue;
    // `docker build -t onedump .` names an image.
    if (isWord(before) && ['-t', '--tag'].includes(before.word)) continue;
    const env: Record<string, string> = {};
    for (let j = i - 1; j >= 0; j--) {
      const e = tokens[j];
      const m = isWord(e) ? /^([A-Z_][A-Z0-9_]*)=(.*)$/s.exec(e.word) : null;
      if (!m) break;
      env[m[1] as string] = m[2] as string;
    }
    let argv: string[] = [];
    for (let j = i + 1; j < tokens.length && isWord(tokens[j]); j++) argv.push((tokens[j] as { word: string }).word);
    const synopsis = argv.some((a) => a.startsWith('['));
    if (synopsis) argv = argv.filter((a) => !/^\[(flags|options)\]$/.test(a)).map((a) => a.replace(/[[\]]/g, ''));
    found.push({ argv, env, synopsis });
  }
  return found;
}

/** Every `onedump …` command in the fenced shell blocks of a Markdown text (YAML, JSON, … blocks are not commands). */
export function examplesOf(file: string, text: string): DocExample[] {
  const out: DocExample[] = [];
  const lines = text.split('\n');
  let block: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const fence = /^\s*```\s*([\w-]*)/.exec(lines[i] as string);
    if (fence) {
      block = block === undefined ? (fence[1] ?? '') : undefined;
      continue;
    }
    if (block === undefined || !SHELL_BLOCKS.has(block)) continue;
    const start = i;
    let line = lines[i] as string;
    while (/\\\s*$/.test(line) && i + 1 < lines.length) line = line.replace(/\\\s*$/, ' ') + lines[++i];
    if (!/(^|[\s(|;&])(onedump|\.\/bin\/onedump\.js)(\s|$)/.test(line)) continue;
    for (const c of commandsOfLine(line)) out.push({ file, line: start + 1, ...c });
  }
  return out;
}

export function docExamples(): DocExample[] {
  return docFiles().flatMap((f) => examplesOf(f, readFileSync(join(ROOT, f), 'utf8')));
}

/**
 * Parses a command line with the real program — the Go-form rewriting, commander's commands, flags, choices, operand
 * counts and each flag's own value check — with every action replaced by nothing: nothing runs. Returns the error
 * sentence, or undefined when it parses. Placeholders of a synopsis (UPPERCASE words) pass any value check.
 */
export async function parseOnly(argv: string[], synopsis = false): Promise<string | undefined> {
  const program = buildProgram();
  const errors: string[] = [];
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  for (const c of all(program)) {
    if ((c as unknown as { _actionHandler?: unknown })._actionHandler) c.action(() => {});
    c.configureOutput({ writeOut: () => {}, writeErr: (s) => errors.push(s) });
    c.exitOverride();
    for (const o of c.options) {
      const parse = o.parseArg;
      if (parse && synopsis)
        o.parseArg = (<T>(v: string, prev: T): T =>
          /^[A-Z][A-Z_]*$/.test(v) ? (v as T) : (parse.call(o, v, prev) as T)) as typeof o.parseArg;
    }
  }
  try {
    await program.parseAsync(normalizeArgs(program, argv), { from: 'user' });
    return undefined;
  } catch (err) {
    if (err instanceof CommanderError && err.exitCode === 0) return undefined; // --help, --version
    return err instanceof CommanderError ? err.message.replace(/^error: /, '') : errorMessage(err);
  }
}
