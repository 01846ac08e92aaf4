// sekuire api as a process: bytes to a real stdout, a body from a real stdin, the exit codes of the real binary.
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useReferenceServer } from '../helpers/e2e.js';

const e2e = useReferenceServer({ SEKUIRE_RETRIES: '0' });

describe('sekuire api, the real binary', () => {
  it('writes a binary answer to stdout byte for byte, and sends a body from stdin and from a file as it came', async () => {
    const { key } = await e2e.server.createKey();
    const m = e2e.machine('api-process');
    expect((await m.run(['login', '--with-key'], { input: key })).code).toBe(0);
    const answer = Buffer.from([0, 255, 10, 13, 200, 1, 0x1b, 0x5b]);
    const audience = await e2e.fake((request, response) => {
      response.writeHead(200, { 'content-type': 'application/octet-stream' });
      response.end(request.url === '/blob' ? answer : request.bytes);
    });
    const env = { SEKUIRE_AUDIENCES: audience.url };
    const out = join(m.dir, 'out.bin');
    const fd = openSync(out, 'w');
    try {
      const run = await m.run(['api', `${audience.url}/blob`], { env, stdout: fd });
      expect([run.code, run.stderr]).toEqual([0, '']);
    } finally {
      closeSync(fd);
    }
    expect(readFileSync(out).equals(answer)).toBe(true);

    const piped = await m.run(['api', `${audience.url}/echo`, '--input', '-'], { env, input: 'héllo\n' });
    expect([piped.code, piped.stdout]).toEqual([0, 'héllo\n']);
    const body = Buffer.from([1, 2, 3, 0, 254]);
    writeFileSync(join(m.dir, 'body.bin'), body);
    const sent = await m.run(['api', `${audience.url}/echo`, '--input', 'body.bin', '--json'], {
      env,
      cwd: m.dir,
    });
    expect(sent.code).toBe(0);
    expect(sent.json()).toMatchObject({ status: 200, body: null, body_base64: body.toString('base64') });
    expect(audience.requests.map((request) => [request.method, request.url])).toEqual([
      ['GET', '/blob'],
      ['POST', '/echo'],
      ['POST', '/echo'],
    ]);
    expect(audience.requests[2]?.bytes.equals(body)).toBe(true);
  });

  it("--profile NAME on the fast path: that profile's key, as commander would read it", async () => {
    const mine = await e2e.server.createKey({ email: 'api-process-mine@example.com' });
    const work = await e2e.server.createKey({ email: 'api-process-work@example.com' });
    const m = e2e.machine('api-process-profiles');
    expect((await m.run(['login', '--with-key'], { input: mine.key })).code).toBe(0);
    expect((await m.run(['login', '--with-key', '--profile', 'work'], { input: work.key })).code).toBe(0);
    const email = async (args: string[], env: Record<string, string> = {}) => {
      const run = await m.run(['api', ...args, '--json'], { env });
      expect(run.code, run.stderr).toBe(0);
      return run.json<{ body: { user: { email: string } } }>().body.user.email;
    };
    expect(await email(['/api/v1/cli/whoami'])).toBe('api-process-mine@example.com');
    expect(await email(['--profile', 'work', '/api/v1/cli/whoami'])).toBe('api-process-work@example.com');
    expect(await email(['/api/v1/cli/whoami', '--profile=work'])).toBe('api-process-work@example.com');
    expect(await email(['/api/v1/cli/whoami'], { SEKUIRE_PROFILE: 'work' })).toBe(
      'api-process-work@example.com',
    );
    // Repeated: left to commander, which takes the last one.
    expect(await email(['--profile', 'default', '--profile', 'work', '/api/v1/cli/whoami'])).toBe(
      'api-process-work@example.com',
    );
    const none = await m.run(['api', '--profile', 'nobody', '/api/v1/cli/whoami']);
    expect(none.code).toBe(10);
    expect(none.stderr).toContain("Run 'sekuire login --profile nobody' to authenticate");
  });

  it('exits 2 for an origin not listed, 13 for no answer, without a stack trace', async () => {
    const { key } = await e2e.server.createKey();
    const m = e2e.machine('api-process-codes', { SEKUIRE_API_KEY: key });
    const refused = await m.run(['api', 'https://api.example.com/v1']);
    expect(refused.code).toBe(2);
    expect(refused.stderr.split('\n')[0]).toBe(
      `Not sending the key to https://api.example.com: it is neither the backend of the key in use (${e2e.server.url}) nor an audience you listed.`,
    );
    const down = await m.run(['api', '/api/v1/cli/status', '--backend', 'http://127.0.0.1:1', '--json']);
    expect(down.code).toBe(13);
    expect(down.json()).toMatchObject({
      error: { code: 'network_refused', message: 'Connection to 127.0.0.1:1 refused.' },
    });
    expect(`${refused.stderr}${down.stderr}`).not.toMatch(/\n\s+at /);
  });
});
