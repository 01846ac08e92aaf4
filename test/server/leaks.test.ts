// Keys that leak: GitHub's secret-scanning reports (signed, checked offline against a key list of
// the test's own) and the public revocation endpoint; what the owner's dashboard shows.
import { createHash, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintKey } from '@sekuire/shared/key';
import { afterEach, describe, expect, it } from 'vitest';
import {
  GitHubKeyList,
  KEY_LIST_REFRESH_MS,
  KEY_LIST_TTL_MS,
} from '../../packages/server/src/domain/github-keys.js';
import { buildApp } from '../../packages/server/src/http/app.js';
import { forEachEngine } from '../helpers/engines.js';
import { formSession } from './form-session.js';
import { FP_A, type Harness, harness } from './harness.js';

const GITHUB = '/api/v1/secret-scanning/github';
const REVOKE = '/api/v1/credentials/revoke';

interface SigningKey {
  readonly id: string;
  readonly privateKey: KeyObject;
  readonly pem: string;
}

function signingKey(id: string): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { id, privateKey, pem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

function keyListJson(keys: readonly SigningKey[]): string {
  return JSON.stringify({
    public_keys: keys.map((key, index) => ({
      key_identifier: key.id,
      key: key.pem,
      is_current: index === 0,
    })),
  });
}

/** As GitHub signs: ECDSA P-256 with SHA-256 over the raw body, DER, base64. */
function signature(key: SigningKey, body: string): string {
  return sign('sha256', Buffer.from(body), key.privateKey).toString('base64');
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

forEachEngine((engine) => {
  let h: Harness;
  let server: Server | undefined;
  const dirs: string[] = [];
  const keysDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'sekuire-keys-'));
    dirs.push(dir);
    return dir;
  };
  afterEach(async () => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    expect(h.logged).toEqual([]);
    await h.close();
    if (server !== undefined) await new Promise((resolve) => server?.close(resolve));
    server = undefined;
  });

  async function withKeyFile(keys: readonly SigningKey[]) {
    const file = join(keysDir(), 'keys.json');
    writeFileSync(file, keyListJson(keys));
    let clock = () => new Date();
    const list = new GitHubKeyList({ file }, () => clock());
    expect(await list.load()).toBeUndefined();
    h = await harness({ engine, githubKeys: list });
    clock = () => h.now();
    return file;
  }

  const report = (key: SigningKey | undefined, body: string, headers: Record<string, string> = {}) =>
    h.inject({
      method: 'POST',
      url: GITHUB,
      headers: {
        'content-type': 'application/json',
        ...(key !== undefined && {
          'github-public-key-identifier': key.id,
          'github-public-key-signature': signature(key, body),
        }),
        ...headers,
      },
      payload: body,
    });

  const status = async (key: string) => (await h.get('/api/v1/cli/status', key, FP_A)).json().error ?? 'ok';

  async function keysPage(email: string) {
    const session = formSession(h);
    expect((await session.signIn(email)).statusCode).toBe(303);
    return (await session.get('/dashboard/settings?tab=api-keys')).body;
  }

  describe('POST /api/v1/secret-scanning/github', () => {
    it('a signed report revokes the active key, keeps where it was found, and answers the feedback', async () => {
      const github = signingKey('k1');
      await withKeyFile([github]);
      await h.createUser({ email: 'ada@example.com' });
      const leaked = await h.createKey({ email: 'ada@example.com', keyName: 'ci' });
      const revoked = await h.createKey({ email: 'ada@example.com' });
      await h.inject({ method: 'GET', url: '/api/v1/health' });
      const { revokeApiKey } = await import('../../packages/server/src/domain/keys.js');
      await revokeApiKey(h.store, revoked.key.id, h.now());
      // Well-formed (its checksum holds) but issued by nobody; and one that fails the checksum.
      const unknown = mintKey('live').value;
      const malformed = `sk_live_${'A'.repeat(32)}000000`;
      const where = 'https://github.com/octocat/Hello-World/blob/12345600b9/foo/bar.txt';
      const body = JSON.stringify([
        { token: leaked.apiKey.value, type: 'sekuire_api_key', url: where, source: 'content' },
        { token: revoked.apiKey.value, type: 'sekuire_api_key', url: '', source: 'commit' },
        { token: unknown, type: 'sekuire_api_key', url: '', source: 'commit' },
        { token: malformed, type: 'sekuire_api_key', url: '', source: 'commit' },
      ]);
      expect(await status(leaked.apiKey.value)).toBe('ok');
      const answer = await report(github, body);
      expect(answer.statusCode).toBe(200);
      expect(answer.json()).toEqual([
        { token_hash: sha256(leaked.apiKey.value), token_type: 'sekuire_api_key', label: 'true_positive' },
        { token_hash: sha256(revoked.apiKey.value), token_type: 'sekuire_api_key', label: 'true_positive' },
        { token_hash: sha256(unknown), token_type: 'sekuire_api_key', label: 'false_positive' },
        { token_hash: sha256(malformed), token_type: 'sekuire_api_key', label: 'false_positive' },
      ]);
      expect(answer.body).not.toContain(leaked.apiKey.value);
      expect(await status(leaked.apiKey.value)).toBe('key_revoked');
      const revocations = (await h.store.read.audit.list()).filter(
        (event) => event.event === 'revoke' && event.key_id === leaked.key.id,
      );
      expect(revocations.map((event) => event.detail)).toEqual([
        {
          masked: leaked.key.masked,
          reason: 'leaked',
          via: 'github_secret_scanning',
          url: where,
          source: 'content',
        },
      ]);
      // A replay (GitHub sending the same match again) changes nothing more.
      const again = await report(github, body);
      expect(again.statusCode).toBe(200);
      expect(again.json()).toEqual(answer.json());
      expect((await h.store.read.audit.list()).filter((event) => event.event === 'revoke')).toHaveLength(2);
      const page = await keysPage('ada@example.com');
      expect(page).toContain(
        `Revoked: leaked (found at <a href="${where}" rel="noopener noreferrer nofollow" referrerpolicy="no-referrer">${where}</a>)`,
      );
    });

    it('a bad signature is 401 and changes nothing', async () => {
      const github = signingKey('k1');
      await withKeyFile([github]);
      const key = await h.createKey();
      const body = JSON.stringify([{ token: key.apiKey.value, type: 't', url: '', source: 'content' }]);
      const tampered = JSON.stringify([{ token: key.apiKey.value, type: 't', url: 'x', source: 'content' }]);
      const cases = [
        await report(undefined, body),
        await report(undefined, body, { 'github-public-key-identifier': 'k1' }),
        // Signed over another body, or by a key that is not GitHub's under GitHub's identifier.
        await report(undefined, body, {
          'github-public-key-identifier': 'k1',
          'github-public-key-signature': signature(github, tampered),
        }),
        await report(undefined, body, {
          'github-public-key-identifier': 'k1',
          'github-public-key-signature': signature(signingKey('k1'), body),
        }),
        await report(undefined, body, {
          'github-public-key-identifier': 'k1',
          'github-public-key-signature': 'bm90IGEgc2lnbmF0dXJl',
        }),
        await report(signingKey('k9'), body),
      ];
      expect(cases.map((answer) => [answer.statusCode, answer.json().error])).toEqual(
        Array.from({ length: 6 }, () => [401, 'invalid_signature']),
      );
      expect(cases[5]?.json().message).toBe(
        'Github-Public-Key-Identifier names no key of the secret-scanning key list.',
      );
      expect(await status(key.apiKey.value)).toBe('ok');
      expect((await h.store.read.audit.list()).filter((event) => event.event === 'revoke')).toEqual([]);
    });

    it('a report larger than other bodies (GitHub sends many matches at once) is taken whole', async () => {
      const github = signingKey('k1');
      await withKeyFile([github]);
      const matches = Array.from({ length: 600 }, (_, i) => ({
        token: `sk_live_${String(i).padStart(32, 'x')}`,
        type: 'sekuire_api_key',
        url: `https://github.com/octocat/Hello-World/blob/12345600b9cbe38a219f39a9941c9319b600c002/file-${i}.txt`,
        source: 'content',
      }));
      const body = JSON.stringify(matches);
      expect(body.length).toBeGreaterThan(64 * 1024);
      const answer = await report(github, body);
      expect(answer.statusCode).toBe(200);
      expect(answer.json()).toHaveLength(600);
    });

    it('forged reports count as failed checks: 429 past the limit, as unknown keys are', async () => {
      const github = signingKey('k1');
      let clock = () => new Date();
      const file = join(keysDir(), 'keys.json');
      writeFileSync(file, keyListJson([github]));
      const list = new GitHubKeyList({ file }, () => clock());
      h = await harness({
        engine,
        githubKeys: list,
        failureLimit: { max: 3, globalMax: 600, windowMs: 60_000 },
      });
      clock = () => h.now();
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await report(signingKey('k1'), '[]')).statusCode);
      expect(statuses).toEqual([401, 401, 401, 429]);
      const limited = await report(signingKey('k1'), '[]');
      expect(limited.headers['retry-after']).toBe('60');
      expect(limited.json().error).toBe('rate_limited');
    });

    it('a key added to the file is read when its identifier first arrives, at most once a minute', async () => {
      const first = signingKey('k1');
      const file = await withKeyFile([first]);
      const body = JSON.stringify([{ token: 'sk_live_nothing', type: 't', url: '', source: 'content' }]);
      const second = signingKey('k2');
      writeFileSync(file, keyListJson([second, first]));
      expect((await report(second, body)).statusCode).toBe(200);
      const third = signingKey('k3');
      writeFileSync(file, keyListJson([third, second, first]));
      expect((await report(third, body)).statusCode).toBe(401);
      h.advance(KEY_LIST_REFRESH_MS);
      expect((await report(third, body)).statusCode).toBe(200);
      expect((await report(first, body)).json()).toEqual([
        { token_hash: sha256('sk_live_nothing'), token_type: 't', label: 'false_positive' },
      ]);
    });

    it('from a URL: fetched once, kept an hour, fetched again for an unknown identifier (bounded)', async () => {
      const github = signingKey('k1');
      let served = [github];
      let fetches = 0;
      server = createServer((request, response) => {
        fetches += 1;
        expect(request.url).toBe('/meta/public_keys/secret_scanning');
        expect(request.headers['user-agent']).toBe('sekuire-server');
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(keyListJson(served));
      });
      await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      const list = new GitHubKeyList(
        { url: `http://127.0.0.1:${port}/meta/public_keys/secret_scanning` },
        () => h.now(),
      );
      h = await harness({ engine, githubKeys: list });
      const body = '[]';
      expect((await report(github, body)).statusCode).toBe(200);
      expect((await report(github, body)).statusCode).toBe(200);
      expect(fetches).toBe(1);
      const rotated = signingKey('k2');
      served = [rotated, github];
      expect((await report(rotated, body)).statusCode).toBe(200);
      expect(fetches).toBe(2);
      // Made-up identifiers cannot make the server fetch more than once a minute.
      for (let i = 0; i < 3; i++) expect((await report(signingKey(`x${i}`), body)).statusCode).toBe(401);
      expect(fetches).toBe(2);
      h.advance(KEY_LIST_REFRESH_MS);
      for (let i = 0; i < 3; i++) expect((await report(signingKey(`y${i}`), body)).statusCode).toBe(401);
      expect(fetches).toBe(3);
      h.advance(KEY_LIST_TTL_MS);
      expect((await report(github, body)).statusCode).toBe(200);
      expect(fetches).toBe(4);
    });

    it('without --secret-scanning-keys: 404; a URL that is not http(s) is refused', async () => {
      h = await harness({ engine });
      const answer = await report(signingKey('k1'), '[]');
      expect(answer.statusCode).toBe(404);
      expect(answer.json().error).toBe('not_found');
      const { keyListSource } = await import('../../packages/server/src/domain/github-keys.js');
      expect(keyListSource('file:///etc/keys.json')).toEqual({
        problem: '--secret-scanning-keys: only http(s) URLs are fetched, not file:',
      });
      expect(keyListSource('https://api.github.com/meta/public_keys/secret_scanning')).toEqual({
        url: 'https://api.github.com/meta/public_keys/secret_scanning',
      });
    });

    it('the page links only an http(s) URL, and escapes whatever was reported', async () => {
      const github = signingKey('k1');
      await withKeyFile([github]);
      await h.createUser({ email: 'ada@example.com' });
      const script = await h.createKey({ email: 'ada@example.com', keyName: 'one' });
      const markup = await h.createKey({ email: 'ada@example.com', keyName: 'two' });
      const body = JSON.stringify([
        { token: script.apiKey.value, type: 't', url: 'javascript:alert(1)', source: 'content' },
        {
          token: markup.apiKey.value,
          type: 't',
          url: 'https://x.example/"><script>alert(1)</script>',
          source: 'c',
        },
      ]);
      expect((await report(github, body)).statusCode).toBe(200);
      const page = await keysPage('ada@example.com');
      expect(page).toContain('Revoked: leaked (found at javascript:alert(1))');
      expect(page).not.toContain('href="javascript:');
      expect(page).not.toContain('<script>alert(1)</script>');
      expect(page).toContain('href="https://x.example/&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
    });
  });

  describe('POST /api/v1/credentials/revoke', () => {
    it('anyone revokes a key they found; the answer is the same whatever exists; the owner sees why', async () => {
      h = await harness({ engine });
      await h.createUser({ email: 'ada@example.com' });
      const found = await h.createKey({ email: 'ada@example.com', keyName: 'found' });
      const other = await h.createKey({ email: 'ada@example.com', keyName: 'other' });
      const send = (credentials: unknown, remoteAddress = '203.0.113.9') =>
        h.inject({
          method: 'POST',
          url: REVOKE,
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify({ credentials }),
          remoteAddress,
        });
      const nothing = await send([mintKey('live').value, 'not a key']);
      const something = await send([found.apiKey.value, 'not a key']);
      expect([nothing.statusCode, something.statusCode]).toEqual([202, 202]);
      expect(something.body).toBe(nothing.body);
      expect(something.json()).toEqual({ accepted: 2 });
      expect(await status(found.apiKey.value)).toBe('key_revoked');
      expect(await status(other.apiKey.value)).toBe('ok');
      // Revoked already: the same answer again, and nothing more written.
      expect((await send([found.apiKey.value, 'not a key'])).body).toBe(nothing.body);
      const revokes = (await h.store.read.audit.list()).filter((event) => event.event === 'revoke');
      expect(revokes.map((event) => [event.key_id, event.client_ip, event.detail])).toEqual([
        [
          found.key.id,
          '203.0.113.9',
          { masked: found.key.masked, reason: 'reported', via: 'public_revocation' },
        ],
      ]);
      const page = await keysPage('ada@example.com');
      expect(page).toContain('Revoked: reported publicly as exposed');
      for (const bad of [[], 'sk_live_x', [1], Array.from({ length: 1001 }, () => 'k')]) {
        const refused = await send(bad);
        expect(refused.statusCode).toBe(400);
        expect(refused.json().field).toBe('credentials');
      }
    });

    it('rate-limited per address and overall, counted in the database that every instance shares', async () => {
      const limit = { perAddress: 2, overall: 3, windowMs: 60_000 };
      h = await harness({ engine, publicRevokeLimit: limit });
      // A second instance on the same database.
      const second = await buildApp({
        store: h.store,
        secret: h.secret,
        now: () => h.now(),
        publicRevokeLimit: limit,
      });
      const send = (app: { inject: Harness['inject'] }, remoteAddress: string) =>
        app.inject({
          method: 'POST',
          url: REVOKE,
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify({ credentials: ['not a key'] }),
          remoteAddress,
        });
      try {
        const statuses = [
          (await send(h, '198.51.100.1')).statusCode,
          (await send(second, '198.51.100.1')).statusCode,
          (await send(h, '198.51.100.1')).statusCode,
          (await send(second, '198.51.100.2')).statusCode,
        ];
        const overall = await send(h, '198.51.100.3');
        expect([...statuses, overall.statusCode]).toEqual([202, 202, 429, 202, 429]);
        expect(overall.headers['retry-after']).toBe('60');
        expect(overall.json()).toEqual({
          error: 'rate_limited',
          message: 'Too many revocation requests; retry in 60 seconds.',
        });
        h.advance(60_000);
        expect((await send(h, '198.51.100.1')).statusCode).toBe(202);
      } finally {
        await second.close();
      }
    });
  });
});
