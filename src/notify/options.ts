import { described, bool } from '../config/fields.js';
import { z } from 'zod';

/** Event switches every notifier accepts. */
export const eventSwitches = {
  onstart: bool({ description: 'Notify when a job starts (default false).' }).optional(),
  onsuccess: bool({ description: 'Notify when a job succeeds (default true, as the Go tool).' }).optional(),
  onfailure: bool({ description: 'Notify when a job fails (default true).' }).optional(),
};

export const eventSwitchDefaults = { onstart: false, onsuccess: true, onfailure: true };

export const headersField = described(z.record(z.string(), z.string()).optional(), { description: 'Extra HTTP headers.' });
