import { z } from 'zod';
import { configSchema } from './schema.js';

/** The config's JSON Schema (for editors and docs), with each field's description, example and secret marker. */
export function configJsonSchema(): Record<string, unknown> {
  const s = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { title: 'onedump configuration', ...s };
}
