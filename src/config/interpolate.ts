import { readFileSync } from 'node:fs';
import { parse as parseYamlScalar } from 'yaml';

export interface InterpolationProblem {
  path: string;
  message: string;
}

const PLACEHOLDER = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}/g;

/**
 * Resolves `${VAR}` and `${VAR:-default}` in every string of a parsed config (values, never keys, so a value can
 * not change the file's structure). When VAR is unset, VAR_FILE names a file whose content (without the trailing
 * newline) is the value — the Docker secrets convention.
 *
 * The Go tool has no interpolation, so its configs hold `$` literally (passwords such as `pa$word` or `a$$b`): every
 * `$` not followed by `{` stays as written. `$${` is the one escape, a literal `${` (`$${X}` is the text `${X}`).
 */
export function interpolate(
  value: unknown,
  env: NodeJS.ProcessEnv,
  problems: InterpolationProblem[],
  path = '',
): unknown {
  if (typeof value === 'string') return interpolateString(value, env, problems, path);
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, problems, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolate(v, env, problems, path ? `${path}.${k}` : k);
    return out;
  }
  return value;
}

function lookup(name: string, env: NodeJS.ProcessEnv): { value?: string; error?: string } {
  const direct = env[name];
  if (direct !== undefined) return { value: direct };
  const file = env[`${name}_FILE`];
  if (file !== undefined) {
    try {
      return { value: readFileSync(file, 'utf8').replace(/\r?\n$/, '') };
    } catch (err) {
      return { error: `cannot read ${name}_FILE (${file}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
    }
  }
  return {};
}

function interpolateString(s: string, env: NodeJS.ProcessEnv, problems: InterpolationProblem[], path: string): unknown {
  if (!s.includes('${')) return s;
  let whole = false;
  const out = s.replace(PLACEHOLDER, (match, name: string | undefined, def: string | undefined, offset: number) => {
    if (match === '$${') return '${';
    whole = offset === 0 && match.length === s.length;
    const { value, error } = lookup(name as string, env);
    if (error) {
      problems.push({ path, message: error });
      return '';
    }
    if (value !== undefined && !(def !== undefined && value === '')) return value;
    if (def !== undefined) return def;
    problems.push({
      path,
      message: `environment variable ${name} is not set (set it, set ${name}_FILE to a file holding it, or write \${${name}:-default})`,
    });
    return '';
  });
  // `port: ${DB_PORT}` should still be a number: a value that is exactly one placeholder is re-read as a YAML scalar.
  if (whole && out !== '') {
    try {
      const scalar = parseYamlScalar(out);
      if (typeof scalar === 'number' || typeof scalar === 'boolean') return scalar;
    } catch {
      /* keep the string */
    }
  }
  return out;
}
