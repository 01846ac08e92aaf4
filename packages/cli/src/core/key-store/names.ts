// The device-key stores by name: what auth.json's key_store and --key-store hold.
export const KEY_STORES = ['file', 'agent', 'keyring', 'tpm'] as const;
export type KeyStoreName = (typeof KEY_STORES)[number];
/** What --key-store and config key_store accept: a store, or `auto` to let login pick one. */
export type KeyStoreChoice = KeyStoreName | 'auto';
export const KEY_STORE_CHOICES: readonly KeyStoreChoice[] = [...KEY_STORES, 'auto'];
