// Permissions on keys: strings chosen when a key is made, kept as they are until a roll.

/** One permission: lower case, digits and `_ . : -`, 1 to 64 characters, starting with a letter or digit. */
export const PERMISSION_PATTERN = /^[a-z0-9][a-z0-9_.:-]{0,63}$/;
/** Permissions on one key at most: a list a person reads, not a policy language. */
export const MAX_PERMISSIONS = 32;
/** The one permission the server itself reads: a server key with it may call POST /api/v1/verify. */
export const VERIFY_PERMISSION = 'verify';

/** Why a list cannot be a key's permissions, or undefined. */
export function permissionsProblem(values: readonly unknown[]): string | undefined {
  if (values.length > MAX_PERMISSIONS) return `at most ${MAX_PERMISSIONS} permissions on one key.`;
  for (const value of values) {
    if (typeof value !== 'string' || !PERMISSION_PATTERN.test(value)) {
      const shown = typeof value === 'string' ? `"${value.slice(0, 70)}"` : 'a non-string';
      return `${shown} is not a permission: 1 to 64 characters of a-z 0-9 _ . : - starting with a letter or digit.`;
    }
  }
  return undefined;
}

/** The list as stored and shown: each once, in the order first given. */
export function normalizePermissions(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** Whether `held` includes every one of `required`. */
export function missingPermissions(held: readonly string[], required: readonly string[]): string[] {
  return required.filter((permission) => !held.includes(permission));
}
