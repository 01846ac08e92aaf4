// `start` given several secrets in its secret file: a session made under the old one still works
// after a restart with "new,old", and is digested anew under the new one.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { secretId } from '../../packages/server/src/domain/digest.js';
import { startServer, TEST_PASSWORD, type TestServer } from '../helpers/server.js';
import { runServer } from '../helpers/server-commands.js';

const A_HEX = 'a1'.repeat(32);
const B_HEX = 'b2'.repeat(32);

let dir: string;
let server: TestServer | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sekuire-rotation-'));
});
afterEach(async () => {
  await server?.stop();
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

it('a restart with "new,old" in the secret file keeps the session, which moves to the new secret', async () => {
  const database = join(dir, 'sekuire.db');
  const secretFile = join(dir, 'sekuire.secret');
  writeFileSync(secretFile, `${A_HEX}\n`, { mode: 0o600 });
  server = await startServer({ database, secretFile });
  await server.createUser('ada@example.com');
  const login = await fetch(`${server.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'ada@example.com', password: TEST_PASSWORD }),
  });
  expect(login.status).toBe(200);
  const { access_token: token } = (await login.json()) as { access_token: string };
  await server.stop();

  writeFileSync(secretFile, `${B_HEX},${A_HEX}\n`);
  server = await startServer({ database, secretFile });
  // stderr and stdout are two pipes: the line written before "Listening on" may arrive after it.
  for (let waited = 0; !server.stderr().includes('Server secrets') && waited < 5_000; waited += 20) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  expect(server.stderr()).toContain(
    `Server secrets, newest first: ${secretId(Buffer.from(B_HEX, 'hex'))}, ${secretId(Buffer.from(A_HEX, 'hex'))} (new digests under ${secretId(Buffer.from(B_HEX, 'hex'))}; what the older ones made moves to it on use).\n`,
  );
  const me = await fetch(`${server.url}/api/v1/auth/me`, { headers: { authorization: `Bearer ${token}` } });
  expect(me.status).toBe(200);
  const report = await runServer(['rotate-secret', '--db', database, '--secret-file', secretFile]);
  expect(report).toEqual({
    code: 0,
    stdout:
      `${secretId(Buffer.from(B_HEX, 'hex'))} newest: 0 keys, 1 session (1 token)\n` +
      `${secretId(Buffer.from(A_HEX, 'hex'))} older: 0 keys, 1 session (1 token) still depend on it; dropping it now would revoke 0 keys and sign out 1 session.\n`,
    stderr: '',
  });
});
