// Query strings and urlencoded forms as every route reads them: one string per name.

/**
 * The first value of each name. A repeated field (`?code=a&code=b`) would otherwise reach a
 * route as an array, which none expects (it answered 500); RFC 3986 leaves repeats to the
 * application, and the first one is what a link or a form put there. The object has no
 * prototype, so a field named `__proto__` or `constructor` is just a field.
 */
export function firstValues(text: string): Record<string, string> {
  const fields: Record<string, string> = Object.create(null);
  for (const [name, value] of new URLSearchParams(text)) {
    if (!Object.hasOwn(fields, name)) fields[name] = value;
  }
  return fields;
}
