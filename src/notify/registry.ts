import type { NotifierBackend } from './backend.js';
import { slackBackend } from './slack.js';
import { webhookBackend } from './webhook.js';

/** Configurable notifiers; adding one is its file plus one line here. The console notifier is always on. */
export const notifierBackends: NotifierBackend<any>[] = [slackBackend, webhookBackend]; // eslint-disable-line @typescript-eslint/no-explicit-any
