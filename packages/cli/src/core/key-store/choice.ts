// --key-store and config key_store: which store login keeps the device key in.
import { UsageError } from '../errors.js';
import { KEY_STORE_CHOICES, type KeyStoreChoice } from './names.js';

export function parseKeyStoreChoice(text: string, source: string): KeyStoreChoice {
  const value = text.trim().toLowerCase();
  if (!(KEY_STORE_CHOICES as readonly string[]).includes(value)) {
    throw new UsageError(
      `${source} must be one of ${KEY_STORE_CHOICES.join(', ')} (got "${text}").`,
      'invalid_setting',
    );
  }
  return value as KeyStoreChoice;
}
