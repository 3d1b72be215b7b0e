/** The settings form's fields, and `form` for messages that name no field of it. */
export type SettingsField = 'notificationEmail' | 'enabled' | 'threshold' | 'countDisables' | 'form';

/** Maps the field an API 400 message names to the form field showing it, or null. */
export function settingsFieldOf(apiField: string | null): SettingsField | null {
  switch (apiField) {
    case 'notificationEmail':
      return 'notificationEmail';
    case 'accidentalDeletes.enabled':
      return 'enabled';
    case 'accidentalDeletes.threshold':
      return 'threshold';
    case 'accidentalDeletes.countDisables':
      return 'countDisables';
    default:
      return null;
  }
}

/**
 * The threshold as typed: a number when it reads as one, otherwise the text itself, so
 * that the API (not the browser) judges it and its message names the field.
 */
export function thresholdValue(text: string): number | string {
  const t = text.trim();
  return /^-?\d+(\.\d+)?$/.test(t) ? Number(t) : t;
}
