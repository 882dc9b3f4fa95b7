import { described, bool } from '../config/fields.js';
import type { JobEvent } from './types.js';
import { z } from 'zod';

/** Event switches every notifier accepts. */
export const eventSwitches = {
  onstart: bool({ description: 'Notify when a job starts (default false).' }).optional(),
  onsuccess: bool({ description: 'Notify when a job succeeds (default true, as the Go tool).' }).optional(),
  onfailure: bool({ description: 'Notify when a job fails (default true).' }).optional(),
};

export const eventSwitchDefaults = { onstart: false, onsuccess: true, onfailure: true };

export const headersField = described(z.record(z.string(), z.string()).optional(), { description: 'Extra HTTP headers.' });

export interface EventSwitches {
  onstart?: boolean;
  onsuccess?: boolean;
  onfailure?: boolean;
}

/**
 * Whether a notifier with these switches reports the event. Progress is for the console only; a run summary goes out
 * when the run had several jobs and one of its outcomes is switched on (a one-job summary would repeat the job's
 * own message).
 */
export function wantsEvent(event: JobEvent, s: EventSwitches): boolean {
  const on = { ...eventSwitchDefaults, ...Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined)) };
  switch (event.type) {
    case 'start':
      return on.onstart;
    case 'progress':
      return false;
    case 'success':
      return on.onsuccess;
    case 'failure':
      return on.onfailure;
    case 'verify':
      return event.result.ok ? on.onsuccess : on.onfailure;
    case 'summary': {
      if (event.results.length < 2) return false;
      const failed = event.results.some((r) => !r.ok);
      return failed ? on.onfailure : on.onsuccess;
    }
  }
}
