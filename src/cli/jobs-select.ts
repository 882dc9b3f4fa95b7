import type { LoadedConfig } from '../config/load.js';
import type { JobConfig } from '../config/schema.js';
import { UsageError } from '../util/errors.js';

/** The config's jobs named by --job (all of them without it); an unknown name is a usage error. */
export function selectJobs(loaded: LoadedConfig, names: string[] | undefined): JobConfig[] {
  for (const name of names ?? []) {
    if (!loaded.config.jobs.some((j) => j.name === name)) throw new UsageError(`no job named "${name}" in the config (jobs: ${loaded.config.jobs.map((j) => j.name).join(', ')}).`);
  }
  return loaded.config.jobs.filter((j) => !names?.length || names.includes(j.name));
}
