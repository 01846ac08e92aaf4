// A new key's environment and expiry as the pages offer them: the dashboard's Create form and both CLI approval pages.
import type { KeyEnvironment } from '@sekuire/shared/key';
import { KEY_DEFAULTS, type KeyLifetime } from '../../domain/keys.js';
import type { Form } from './forms.js';

export const ENVIRONMENT_CHOICES: readonly KeyEnvironment[] = ['test', 'live'];
export const EXPIRY_CHOICES = [
  { value: '30', label: '30 days' },
  { value: '90', label: '90 days' },
  { value: '365', label: '1 year' },
  { value: 'never', label: 'Never' },
] as const;

/** One of a select's values, or undefined: a value the form never offers is an error, not a default. */
export function choice<T extends string>(value: unknown, allowed: readonly T[]): T | undefined {
  return allowed.find((candidate) => candidate === value);
}

/** The two selects as the page shows them: what was sent when it is offered, else the one default. */
export interface LifetimeValues {
  readonly environment: string;
  readonly expires: string;
}

export const DEFAULT_LIFETIME_VALUES: LifetimeValues = {
  environment: KEY_DEFAULTS.environment,
  expires: String(KEY_DEFAULTS.expiresInDays),
};

/** What key-lifetime.eta shows: the options, and the one default preselected. */
export const KEY_CHOICES = {
  environment: ENVIRONMENT_CHOICES,
  expiry: EXPIRY_CHOICES,
  defaults: DEFAULT_LIFETIME_VALUES,
} as const;

export type LifetimeChoice =
  | { readonly ok: true; readonly lifetime: KeyLifetime; readonly values: LifetimeValues }
  | {
      readonly ok: false;
      readonly field: 'environment' | 'expires';
      readonly formError: string;
      readonly values: LifetimeValues;
    };

/** The environment and expiry a form sent, or the sentence that refuses a value it never offers. */
export function lifetimeChoice(body: Form): LifetimeChoice {
  const environment = choice(body.environment, ENVIRONMENT_CHOICES);
  const expires = choice(
    body.expires,
    EXPIRY_CHOICES.map((option) => option.value),
  );
  const values: LifetimeValues = {
    environment: environment ?? DEFAULT_LIFETIME_VALUES.environment,
    expires: expires ?? DEFAULT_LIFETIME_VALUES.expires,
  };
  if (environment === undefined)
    return {
      ok: false,
      field: 'environment',
      formError: 'Choose the environment from the list: test or live.',
      values,
    };
  if (expires === undefined)
    return { ok: false, field: 'expires', formError: 'Choose when the key expires from the list.', values };
  return {
    ok: true,
    lifetime: { environment, expiresInDays: expires === 'never' ? null : Number(expires) },
    values,
  };
}
