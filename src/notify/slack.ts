import { z } from 'zod';
import { secret } from '../config/fields.js';
import { eventSwitches } from './options.js';
import { NotImplementedError } from '../util/errors.js';
import type { NotifierBackend } from './backend.js';

const slackOptions = z.strictObject({
  incomingwebhook: secret({ description: 'Slack incoming webhook URL.', example: 'https://hooks.slack.com/services/T000/B000/XXXX', go: true }),
  ...eventSwitches,
});
export type SlackOptions = z.infer<typeof slackOptions>;

export const slackBackend: NotifierBackend<SlackOptions> = {
  kind: 'slack',
  summary: 'Slack incoming webhook (Block Kit messages).',
  options: slackOptions,
  create() {
    throw new NotImplementedError('The slack notifier');
  },
};
