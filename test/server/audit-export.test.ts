// `audit --since/--until --format jsonl|csv`: the trail exported between two times, and each wrong value refused.
import { afterEach, beforeEach, expect, it } from 'vitest';
import { forEachEngine } from '../helpers/engines.js';
import { runServer } from '../helpers/server-commands.js';
import { type Harness, harness } from './harness.js';

let h: Harness;

forEachEngine((engine) => {
  beforeEach(async () => {
    h = await harness({ engine });
    const events: [string, string, string | null, string | null][] = [
      ['2029-12-31T23:59:59.999Z', 'create', null, null],
      ['2030-01-01T00:00:00.000Z', 'bind', 'laptop "work", 2nd', '{"os":"linux","note":"a,b"}'],
      ['2030-01-01T12:00:00.000Z', 'revoke', null, '{"masked":"sk_test_…","why":"line one\\nline two"}'],
      ['2030-01-02T00:00:00.000Z', 'unbind', 'desk', null],
    ];
    for (const [at, event, device, detail] of events) {
      await h.sql.run(
        'INSERT INTO audit_events (at, event, key_id, device_name, client_ip, detail) VALUES (?, ?, ?, ?, ?, ?)',
        [at, event, 'key_1', device, '203.0.113.7', detail],
      );
    }
  });
  afterEach(async () => {
    await h.close();
  });

  const audit = (...args: string[]) => runServer(['audit', '--db', h.target, ...args]);

  it('L9: list-keys escapes a name stored before the text rule, in its table and its JSON', async () => {
    const created = await h.createKey({ email: 'ada@example.com', keyName: 'deploy' });
    await h.sql.run('UPDATE api_keys SET name = ? WHERE id = ?', ['deploy\u202egnp.exe', created.key.id]);
    const table = await runServer(['list-keys', '--db', h.target]);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[1]?.endsWith('  deploy\\u{202E}gnp.exe')).toBe(true);
    expect(table.stdout).not.toMatch(/\u202e/);
    const json = await runServer(['list-keys', '--db', h.target, '--json']);
    expect(json.stdout).toContain('"name":"deploy\\u202egnp.exe"');
    expect(JSON.parse(json.stdout)[0].name).toBe('deploy\u202egnp.exe');
  });

  it('L9: a bidi override, a zero-width space or a line separator stored in the trail is escaped, never printed raw', async () => {
    await h.sql.run(
      'INSERT INTO audit_events (at, event, key_id, device_name, client_ip, detail) VALUES (?, ?, ?, ?, ?, ?)',
      [
        '2030-01-03T00:00:00.000Z',
        'bind',
        'key_2',
        'invoice\u202efdp.exe',
        '203.0.113.8',
        '{"note":"a\u200bb\u2028c"}',
      ],
    );
    const raw = /[\u202e\u200b\u2028]/;
    const lines = await audit('--since', '2030-01-03');
    expect(lines.code).toBe(0);
    expect(lines.stdout).toBe(
      '2030-01-03T00:00:00.000Z  bind          key_2  -  invoice\\u{202E}fdp.exe  203.0.113.8  -  {"note":"a\\u{200B}b\\u{2028}c"}\n',
    );
    const json = await audit('--since', '2030-01-03', '--json');
    expect(json.stdout).not.toMatch(raw);
    expect(JSON.parse(json.stdout)[0].device_name).toBe('invoice\u202efdp.exe');
    const jsonl = await audit('--since', '2030-01-03', '--format', 'jsonl');
    expect(jsonl.stdout).toContain('"device_name":"invoice\\u202efdp.exe"');
    expect(JSON.parse(jsonl.stdout).detail).toEqual({ note: 'a\u200bb\u2028c' });
  });

  it('exports the events from --since (included) to --until (excluded) as JSON lines', async () => {
    const run = await audit('--since', '2030-01-01', '--until', '2030-01-02', '--format', 'jsonl');
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    const lines = run.stdout.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    expect(lines.slice(0, 2).map((line) => JSON.parse(line))).toEqual([
      {
        id: 2,
        at: '2030-01-01T00:00:00.000Z',
        event: 'bind',
        key_id: 'key_1',
        fingerprint: null,
        device_name: 'laptop "work", 2nd',
        client_ip: '203.0.113.7',
        detail: { os: 'linux', note: 'a,b' },
        actor_user_id: null,
      },
      {
        id: 3,
        at: '2030-01-01T12:00:00.000Z',
        event: 'revoke',
        key_id: 'key_1',
        fingerprint: null,
        device_name: null,
        client_ip: '203.0.113.7',
        detail: { masked: 'sk_test_…', why: 'line one\nline two' },
        actor_user_id: null,
      },
    ]);
  });

  it('exports CSV with a header row, quoting what RFC 4180 says to quote', async () => {
    const run = await audit('--since', '2030-01-01T01:00:00+01:00', '--format', 'csv');
    expect(run).toEqual({
      code: 0,
      stderr: '',
      stdout:
        'id,at,event,key_id,fingerprint,device_name,client_ip,actor_user_id,detail\r\n' +
        '2,2030-01-01T00:00:00.000Z,bind,key_1,,"laptop ""work"", 2nd",203.0.113.7,,"{""os"":""linux"",""note"":""a,b""}"\r\n' +
        '3,2030-01-01T12:00:00.000Z,revoke,key_1,,,203.0.113.7,,"{""masked"":""sk_test_…"",""why"":""line one\\nline two""}"\r\n' +
        '4,2030-01-02T00:00:00.000Z,unbind,key_1,,desk,203.0.113.7,,\r\n',
    });
    const none = await audit('--until', '2029-01-01', '--format', 'csv');
    expect(none).toEqual({
      code: 0,
      stderr: '',
      stdout: 'id,at,event,key_id,fingerprint,device_name,client_ip,actor_user_id,detail\r\n',
    });
  });

  it('keeps --json and the plain lines, filtered by time too', async () => {
    const json = await audit('--until', '2030-01-01T00:00:00Z', '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).map((event: { event: string }) => event.event)).toEqual(['create']);
    const all = await audit('--json');
    expect(JSON.parse(all.stdout)).toHaveLength(4);
    const lines = await audit('--since', '2030-01-02');
    expect(lines).toEqual({
      code: 0,
      stderr: '',
      stdout: '2030-01-02T00:00:00.000Z  unbind        key_1  -  desk  203.0.113.7  -  -\n',
    });
  });

  it.each([
    [
      ['--since', 'yesterday'],
      'error: --since must be an ISO 8601 date or time with its offset (2030-01-31, 2030-01-31T12:00:00Z), not "yesterday".\n',
    ],
    [
      ['--until', '2030-02-30'],
      'error: --until must be an ISO 8601 date or time with its offset (2030-01-31, 2030-01-31T12:00:00Z), not "2030-02-30".\n',
    ],
    [
      ['--since', '2030-01-01T12:00'],
      'error: --since must be an ISO 8601 date or time with its offset (2030-01-31, 2030-01-31T12:00:00Z), not "2030-01-01T12:00".\n',
    ],
    [
      ['--since', '2030-01-02', '--until', '2030-01-01'],
      'error: --since (2030-01-02) must be before --until (2030-01-01).\n',
    ],
    [['--format', 'xml'], 'error: --format must be jsonl or csv, not "xml".\n'],
    [['--format', 'csv', '--json'], 'error: --json and --format cannot be used together.\n'],
  ])('%j -> exit 2 with one line', async (args, message) => {
    expect(await audit(...args)).toEqual({ code: 2, stdout: '', stderr: message });
  });
});
