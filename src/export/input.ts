import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { forEachSecret, parseConfigText } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { ENC_PREFIX } from '../config/secrets.js';
import { parseDsn } from '../config/dsn.js';
import { UsageError } from '../util/errors.js';

/** A config file read for export: its text as written, the `${VAR}`s it needs, and the validated config. */
export interface ExportInput {
  path: string;
  text: string;
  /** Variables the config reads without a default (`${VAR}`, not `${VAR:-x}`), sorted. */
  variables: string[];
  config: Config;
  /** Secret-marked values written literally in the file (path → why), which would land in a ConfigMap or unit. */
  literalSecrets: string[];
}

const PLACEHOLDER = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(:-)?/g;

export async function readExportInput(path: string): Promise<ExportInput> {
  if (/^[a-z0-9]+:\/\//i.test(path)) throw new UsageError(`export reads a config file on this machine, not ${path.split('/')[0]}//…: download it first.`);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read the config ${path}: ${(err as Error).message}.`);
  }
  const variables = new Set<string>();
  for (const m of text.matchAll(PLACEHOLDER)) if (m[1] && !m[2]) variables.add(m[1]);
  // Validated as it will be at run time, with every variable set (to a value that satisfies the DSN parser).
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  for (const v of variables) env[v] = 'exported-placeholder';
  const loaded = parseConfigText(text, path, env);
  const literalSecrets: string[] = [];
  forEachSecret(parse(text), (value, where) => {
    if (value.includes('${') || value.startsWith(ENC_PREFIX)) return;
    if (/dsn$/.test(where)) {
      try {
        if (!parseDsn(value).password) return;
      } catch {
        return;
      }
    }
    literalSecrets.push(where);
  });
  return { path, text, variables: [...variables].sort(), config: loaded.config, literalSecrets };
}
