import { z } from 'zod';
import { secret } from '../config/fields.js';
import { eventSwitches, headersField, wantsEvent } from './options.js';
import { postJson } from './http.js';
import { registerSecret } from '../util/redact.js';
import type { NotifierBackend } from './backend.js';
import type { JobEvent, Notifier } from './types.js';

const webhookOptions = z.strictObject({
  url: secret({ description: 'URL that receives a JSON POST per event.', example: 'https://ops.example.com/hooks/backup' }),
  headers: headersField,
  ...eventSwitches,
});
export type WebhookOptions = z.infer<typeof webhookOptions>;

/** POSTs each event as JSON: `{ "source": "onedump", "type": "success", "job": "app", "at": "…", "result": {…} }`. */
export class WebhookNotifier implements Notifier {
  readonly kind = 'webhook';
  constructor(private readonly opts: WebhookOptions) {}

  async notify(event: JobEvent): Promise<void> {
    if (!wantsEvent(event, this.opts)) return;
    await postJson(this.opts.url, { source: 'onedump', ...event }, { what: 'the webhook', headers: this.opts.headers });
  }
}

export const webhookBackend: NotifierBackend<WebhookOptions> = {
  kind: 'webhook',
  summary: 'Generic webhook: POSTs each event as JSON.',
  options: webhookOptions,
  create: (opts) => {
    // Header values are usually credentials (Authorization, X-Api-Key): never in a log line.
    for (const v of Object.values(opts.headers ?? {})) registerSecret(v);
    return new WebhookNotifier(opts);
  },
};
