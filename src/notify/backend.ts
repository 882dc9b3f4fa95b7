import type { z } from 'zod';
import type { Logger } from '../util/logger.js';
import type { Notifier } from './types.js';

export interface NotifierBackend<O = Record<string, unknown>> {
  /** The key under `notifier:` in the config. */
  readonly kind: string;
  readonly summary: string;
  readonly options: z.ZodType<O>;
  create(opts: O, ctx: { log: Logger }): Notifier;
}
