// A field sent twice (query or form) is read as its first value on every surface, never a 500.
import { afterEach, describe, expect, it } from 'vitest';
import { formSession } from './form-session.js';
import { type Harness, harness, PASSWORD } from './harness.js';

let current: Harness | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

async function start(): Promise<Harness> {
  current = await harness();
  return current;
}

describe('repeated fields', () => {
  it('query strings: the first value counts, wherever the name is repeated', async () => {
    const h = await start();
    await h.createUser({ email: 'ada@example.com' });
    const b = formSession(h);

    const login = await b.get('/login?next=%2Fdevice&next=%2F%2Fevil.example');
    expect(login.statusCode).toBe(200);
    expect(login.body).toContain('name="next" value="/device"');

    await b.signIn('ada@example.com');
    // No such code: the page says so about the first one.
    const device = await b.get('/device?code=ABCD-EFGH&code=WXYZ-2345');
    expect(device.statusCode).toBe(404);
    expect(device.body).toContain('ABCD-EFGH');
    expect(device.body).not.toContain('WXYZ-2345');

    const tab = await b.get('/dashboard/settings?tab=devices&tab=api-keys');
    expect(tab.statusCode).toBe(200);
    expect(tab.body).toContain('<h1>Devices</h1>');

    const keys = await b.api('GET', '/api/v1/keys?limit=1&limit=5000');
    expect(keys.statusCode).toBe(200);
    expect(keys.json()).toMatchObject({ keys: [], total: 0 });
    expect(h.logged).toEqual([]);
  });

  it('forms: the first value counts; a field named __proto__ is just a field', async () => {
    const h = await start();
    await h.createUser({ email: 'ada@example.com' });
    const b = formSession(h);
    await b.get('/login');
    const signedIn = await b.post('/login', [
      ['email', 'ada@example.com'],
      ['email', 'eve@example.com'],
      ['password', PASSWORD],
      ['password', 'wrong'],
      ['__proto__', 'x'],
    ]);
    expect(signedIn.statusCode).toBe(303);
    expect(signedIn.headers.location).toBe('/dashboard/settings?tab=api-keys');
    expect(h.logged).toEqual([]);
  });
});
