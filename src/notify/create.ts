import type { Config } from '../config/schema.js';
import type { Logger } from '../util/logger.js';
import type { Notifier } from './types.js';
import { notifierBackends } from './registry.js';
import { retrying } from './retrying.js';

/** Builds the configured notifiers, each retried by the one policy (the console notifier is added by the caller). */
export function createNotifiers(config: Config, log: Logger): Notifier[] {
  const out: Notifier[] = [];
  const section = (config.notifier ?? {}) as Record<string, unknown[] | undefined>;
  for (const b of notifierBackends) for (const opts of section[b.kind] ?? []) out.push(retrying(b.create(opts, { log }), log));
  return out;
}
