import { z } from 'zod';
import { secret } from '../config/fields.js';
import { eventSwitches, headersField } from './options.js';
import { NotImplementedError } from '../util/errors.js';
import type { NotifierBackend } from './backend.js';

const webhookOptions = z.strictObject({
  url: secret({ description: 'URL that receives a JSON POST per event.', example: 'https://ops.example.com/hooks/backup' }),
  headers: headersField,
  ...eventSwitches,
});
export type WebhookOptions = z.infer<typeof webhookOptions>;

export const webhookBackend: NotifierBackend<WebhookOptions> = {
  kind: 'webhook',
  summary: 'Generic webhook: POSTs each event as JSON.',
  options: webhookOptions,
  create() {
    throw new NotImplementedError('The webhook notifier');
  },
};
