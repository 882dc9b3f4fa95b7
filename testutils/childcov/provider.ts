// vitest's V8 coverage provider (@vitest/coverage-v8), plus the coverage of the CLI child processes the tests spawn.
//
// Most CLI tests run the real program in a child (`node --import tsx src/cli/onedump.ts …`), where vitest's in-process
// collection cannot see. When coverage is on, this provider puts two variables into the environment before the
// workers start; they pass them on to every child they spawn:
//   ONEDUMP_CHILD_COVERAGE_DIR  a fresh folder for the children's coverage
//   NODE_OPTIONS                --import=testutils/childcov/child-preload.mjs
// The preload records V8 block coverage of src/ and writes it at exit, and keeps the JavaScript tsx made of each src/
// module (its inline source map leads back to the .ts). Before the thresholds are checked, generateCoverage() converts
// those files with the provider's own converter (ast-v8-to-istanbul, as for the in-process coverage) and merges them
// into vitest's coverage map, so `coverage.thresholds` in vitest.config.ts apply to the sum.
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8Module from '@vitest/coverage-v8';
import { createRequire } from 'node:module';

// @vitest/coverage-v8's own V8 merger, resolved from it (it is not a dependency of this project).
interface ScriptCov {
  url: string;
  functions: unknown[];
}
interface ProcessCov {
  result: ScriptCov[];
}
const { mergeProcessCovs } = createRequire(createRequire(import.meta.url).resolve('@vitest/coverage-v8/package.json'))('@bcoe/v8-coverage') as {
  mergeProcessCovs(covs: ProcessCov[]): ProcessCov;
};
/** The parts of istanbul-lib-coverage used here. */
interface Loc {
  start: { line: number };
}
interface FileCoverageData {
  statementMap: Record<string, Loc>;
  s: Record<string, number>;
  fnMap: Record<string, { decl: Loc }>;
  f: Record<string, number>;
  branchMap: Record<string, { type: string; loc: Loc; locations: Loc[] }>;
  b: Record<string, number[]>;
}
interface FileCoverage {
  data: FileCoverageData;
  getLineCoverage(): Record<string, number>;
}
interface CoverageMap {
  merge(other: CoverageMap | object): void;
  filter(keep: (file: string) => boolean): void;
  files(): string[];
  fileCoverageFor(file: string): FileCoverage;
  getCoverageSummary(): Record<'lines' | 'branches' | 'functions' | 'statements', { pct: number }>;
}

const summary = (map: CoverageMap) => {
  const s = map.getCoverageSummary();
  return `lines ${s.lines.pct} %, branches ${s.branches.pct} %, functions ${s.functions.pct} %, statements ${s.statements.pct} %`;
};

/**
 * Adds a child's hits to the in-process coverage of the same file, by line: vitest's transform and tsx's produce
 * slightly different statements for one .ts file (tsx keeps the import declarations, for one), so merging the two
 * maps as they are would count some statements twice. Instead vitest's statements, functions and branches stay the
 * units (the totals are the in-process ones) and each is marked run when the child ran code starting on its line:
 * a statement when a child statement on that line ran, a function when a child function declared on that line ran,
 * a branch when the child has a branch of the same kind on that line with as many arms.
 */
function addByLine(target: FileCoverage, child: FileCoverage): void {
  const t = target.data;
  const c = child.data;
  const lineHits = child.getLineCoverage();
  for (const [id, loc] of Object.entries(t.statementMap)) t.s[id]! += lineHits[loc.start.line] ?? 0;
  const fnHits = new Map<number, number>();
  for (const [id, fn] of Object.entries(c.fnMap)) fnHits.set(fn.decl.start.line, (fnHits.get(fn.decl.start.line) ?? 0) + c.f[id]!);
  for (const [id, fn] of Object.entries(t.fnMap)) t.f[id]! += fnHits.get(fn.decl.start.line) ?? 0;
  const branchHits = new Map<string, number[]>();
  for (const [id, br] of Object.entries(c.branchMap)) {
    const key = `${br.type}:${br.loc.start.line}:${br.locations.length}`;
    const prev = branchHits.get(key);
    branchHits.set(key, prev ? prev.map((n, i) => n + c.b[id]![i]!) : [...c.b[id]!]);
  }
  for (const [id, br] of Object.entries(t.branchMap)) {
    const hits = branchHits.get(`${br.type}:${br.loc.start.line}:${br.locations.length}`);
    if (hits) t.b[id] = t.b[id]!.map((n, i) => n + hits[i]!);
  }
}

const PRELOAD = fileURLToPath(new URL('./child-preload.mjs', import.meta.url));

/** The parts of V8CoverageProvider used here (remapCoverage and getSources are private in its typings). */
interface V8Provider {
  initialize(ctx: unknown): void;
  generateCoverage(opts: { allTestsRun?: boolean }): Promise<CoverageMap>;
  isIncluded(filename: string): boolean;
  getSources(url: string, onTransform: (file: string) => Promise<{ code: string; map?: unknown }>, functions: ScriptCov['functions']): Promise<unknown>;
  remapCoverage(url: string, wrapperLength: number, sources: unknown, functions: ScriptCov['functions']): Promise<object>;
  createCoverageMap(): CoverageMap;
  ctx: { logger: { log(msg: string): void; warn(msg: string): void } };
}

const INLINE_MAP = /\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/;

async function childCoverage(provider: V8Provider, dir: string): Promise<{ map: CoverageMap | undefined; processes: number; missing: string[] }> {
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith('child-') && f.endsWith('.json')) : [];
  if (!files.length) return { map: undefined, processes: 0, missing: [] };
  // Merge in batches: one V8 process coverage per child, summed per script.
  let merged: ProcessCov = { result: [] };
  for (let i = 0; i < files.length; i += 100) {
    const batch = files.slice(i, i + 100).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as ProcessCov);
    merged = mergeProcessCovs([merged, ...batch]);
  }
  const map = provider.createCoverageMap();
  const missing: string[] = [];
  for (const script of merged.result) {
    const path = fileURLToPath(script.url);
    if (!provider.isIncluded(path) || !existsSync(path)) continue;
    const sourceFile = join(dir, 'sources', `${createHash('sha1').update(script.url).digest('hex')}.js`);
    if (!existsSync(sourceFile)) {
      missing.push(path);
      continue;
    }
    const { code } = JSON.parse(readFileSync(sourceFile, 'utf8')) as { code: string };
    const inline = INLINE_MAP.exec(code);
    const sourceMap = inline ? (JSON.parse(Buffer.from(inline[1]!, 'base64').toString('utf8')) as unknown) : undefined;
    const sources = await provider.getSources(script.url, async () => ({ code, map: sourceMap }), script.functions);
    const fileMap = await provider.remapCoverage(script.url, 0, sources, script.functions);
    map.merge(fileMap);
  }
  return { map, processes: files.length, missing };
}

function wrap(provider: V8Provider): V8Provider {
  let dir: string | undefined;
  const initialize = provider.initialize.bind(provider);
  provider.initialize = (ctx) => {
    initialize(ctx);
    dir = mkdtempSync(join(tmpdir(), 'onedump-child-coverage-'));
    process.env.ONEDUMP_CHILD_COVERAGE_DIR = dir;
    process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import=${PRELOAD}`.trim();
  };
  const generate = provider.generateCoverage.bind(provider);
  provider.generateCoverage = async (opts) => {
    const map = await generate(opts);
    if (!dir) return map;
    try {
      const started = Date.now();
      provider.ctx.logger.log(` % In-process coverage (vitest workers only): ${summary(map)}`);
      const children = await childCoverage(provider, dir);
      if (children.map) {
        children.map.filter((file) => existsSync(file) && provider.isIncluded(file));
        const known = new Set(map.files());
        for (const file of children.map.files()) {
          // A file the workers never loaded (a partial run does not add the untested ones) is taken as the child saw it.
          if (known.has(file)) addByLine(map.fileCoverageFor(file), children.map.fileCoverageFor(file));
          else map.merge({ [file]: children.map.fileCoverageFor(file).data });
        }
      }
      provider.ctx.logger.log(
        ` % Coverage of ${children.processes} CLI child processes merged in ${((Date.now() - started) / 1000).toFixed(1)} s: ${summary(map)}` +
          (children.missing.length ? ` (no captured code for ${children.missing.length} files: ${children.missing.slice(0, 3).join(', ')})` : ''),
      );
    } finally {
      if (!process.env.ONEDUMP_KEEP_CHILD_COVERAGE) rmSync(dir, { recursive: true, force: true });
    }
    return map;
  };
  return provider;
}

export default {
  ...v8Module,
  async getProvider() {
    return wrap((await v8Module.getProvider()) as unknown as V8Provider);
  },
};
