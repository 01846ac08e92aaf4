// The dashboard side (issue 11): an organization with 1,000 keys, its person signed in, and what signing in costs.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { hashPassword, verifyPassword } from '../../packages/server/src/domain/passwords.js';
import { DEFAULT_LIST_LIMIT } from '../../packages/server/src/http/validation.js';
import type { Engine } from '../../packages/server/src/store/store.js';
import { createDatabase, dropDatabase } from '../helpers/postgres.js';
import { type FixedRequest, type LoadFigures, type LoadOptions, loadFixed } from './load.js';
import {
  clusterCpu,
  processCpuSeconds,
  type Resources,
  readMemory,
  type Server,
  startArgs,
} from './processes.js';
import { cloneSignInAccounts, type OrganizationSeed, seedOrganizationKeys } from './seed.js';
import type { LoadRun } from './server-bench.js';
import { median, percentile } from './stats.js';

export const KEYS_PAGE = '/dashboard/settings?tab=api-keys';
export const KEYS_API = '/api/v1/keys';
const LOGIN_API = '/api/v1/auth/login';

/** The person create-user made, who owns the organization the keys were seeded into. */
export interface Person {
  readonly email: string;
  readonly password: string;
  readonly userId: string;
  readonly orgId: string;
}

/** The page as a browser fetches it: its HTML, then the assets it links to. */
export interface PageWeight {
  readonly htmlBytes: number;
  /** Keys in the page's table (the first page: 50 per page). */
  readonly rows: number;
  /** The pager's "Showing 1–50 of N". */
  readonly showing: string;
  readonly assets: readonly { readonly path: string; readonly bytes: number }[];
  /** HTML plus every asset. */
  readonly totalBytes: number;
  /** The answer's Content-Encoding (the server sends the page uncompressed unless a proxy compresses). */
  readonly contentEncoding: string | null;
}

export interface DashboardSetup {
  readonly person: Person;
  readonly seed: OrganizationSeed;
  /** create-user's wall time (node start-up and one scrypt included). */
  readonly createUserMs: number;
  /** GET /api/v1/keys with the Bearer access token of one API sign-in. */
  readonly api: FixedRequest;
  /** GET the API Keys tab with the cookies of one sign-in through the /login form. */
  readonly page: FixedRequest;
  readonly pageWeight: PageWeight;
  readonly jsonBytes: number;
  readonly jsonKeys: number;
}

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

async function get(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(url, { headers, redirect: 'manual' });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

function cookieValue(headers: Headers, name: string): string {
  for (const line of headers.getSetCookie()) {
    const [pair] = line.split(';');
    const [key, ...value] = (pair ?? '').split('=');
    if (key?.trim() === name) return value.join('=');
  }
  throw new Error(`no ${name} cookie in the answer`);
}

/** `sekuire-server create-user --password-stdin --json`: the real command, its own organization. */
export function createPerson(
  serverPath: string,
  db: string,
  env: NodeJS.ProcessEnv,
  email: string,
  password: string,
): Promise<Person & { ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [serverPath, 'create-user', '--db', db, '--email', email, '--password-stdin', '--json'],
      { env },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`create-user failed: ${stderr}`));
          return;
        }
        const made = JSON.parse(stdout) as { id: string; organization: { id: string }; role: string };
        if (made.role !== 'owner') {
          reject(new Error(`create-user made ${email} ${made.role}, not owner`));
          return;
        }
        resolve({
          email,
          password,
          userId: made.id,
          orgId: made.organization.id,
          ms: performance.now() - started,
        });
      },
    );
    child.stdin?.end(`${password}\n`);
  });
}

/** POST /api/v1/auth/login from a given local address (the limits count per client address). */
export function apiSignIn(
  baseUrl: string,
  email: string,
  password: string,
  localAddress = '127.0.0.1',
): Promise<{ status: number; body: string; ms: number }> {
  const body = JSON.stringify({ email, password });
  const url = new URL(LOGIN_API, baseUrl);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      {
        method: 'POST',
        localAddress,
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            ms: performance.now() - started,
          }),
        );
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/** Signs in through the /login form as a browser does: GET it (CSRF cookie and token), POST it. */
async function formSignIn(baseUrl: string, person: Person): Promise<Record<string, string>> {
  const form = await get(`${baseUrl}/login?next=${encodeURIComponent(KEYS_PAGE)}`);
  if (form.status !== 200) throw new Error(`GET /login answered ${form.status}`);
  const csrfCookie = cookieValue(form.headers, 'sekuire_csrf');
  const token = /name="_csrf" value="([^"]+)"/.exec(form.body)?.[1];
  if (token === undefined) throw new Error('the sign-in page has no _csrf field');
  const posted = await fetch(`${baseUrl}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `sekuire_csrf=${csrfCookie}` },
    body: new URLSearchParams({
      _csrf: token,
      email: person.email,
      password: person.password,
      next: KEYS_PAGE,
    }).toString(),
  });
  await posted.arrayBuffer();
  if (posted.status !== 303 || posted.headers.get('location') !== KEYS_PAGE) {
    throw new Error(`POST /login answered ${posted.status} to ${posted.headers.get('location')}`);
  }
  const session = cookieValue(posted.headers, 'sekuire_session');
  // Both cookies, as the browser holds them after signing in.
  return { cookie: `sekuire_session=${session}; sekuire_csrf=${csrfCookie}` };
}

/** The assets a page links to (stylesheet, script, icon), on this site. */
function linkedAssets(html: string): string[] {
  const found = new Set<string>();
  for (const match of html.matchAll(/<(?:link|script)\b[^>]*\b(?:href|src)="(\/[^"/][^"]*)"/g)) {
    if (match[1] !== undefined) found.add(match[1]);
  }
  return [...found];
}

async function pageWeight(baseUrl: string, page: FixedRequest, keys: number): Promise<PageWeight> {
  const answer = await get(`${baseUrl}${page.path}`, page.headers);
  if (answer.status !== 200 || !answer.body.includes('<h1>API Keys</h1>')) {
    throw new Error(`the API Keys page answered ${answer.status}: ${answer.body.slice(0, 300)}`);
  }
  const rows = answer.body.split('data-label="Key"').length - 1;
  const showing = /Showing ([^<]*)</.exec(answer.body)?.[1] ?? '';
  if (!showing.endsWith(`of ${keys}`))
    throw new Error(`the API Keys page says "${showing}", not "of ${keys}"`);
  const assets: { path: string; bytes: number }[] = [];
  for (const path of linkedAssets(answer.body)) {
    const response = await fetch(`${baseUrl}${path}`);
    const bytes = (await response.arrayBuffer()).byteLength;
    if (response.status !== 200) throw new Error(`${path} answered ${response.status}`);
    assets.push({ path, bytes });
  }
  const htmlBytes = Buffer.byteLength(answer.body);
  return {
    htmlBytes,
    rows,
    showing,
    assets,
    totalBytes: htmlBytes + assets.reduce((sum, asset) => sum + asset.bytes, 0),
    contentEncoding: answer.headers.get('content-encoding'),
  };
}

/**
 * The person's organization with `keys` keys (create-user, then the keys in bulk), and, once
 * `start` has started a server on it, one sign-in through the API and one through the form: the
 * requests the load repeats, checked to answer 200 with the first page of keys: the API's
 * (100 keys, its default) and the page's (50 rows).
 */
export async function prepareDashboard(options: {
  readonly serverPath: string;
  readonly db: string;
  readonly env: NodeJS.ProcessEnv;
  readonly secret: Buffer;
  readonly keys: number;
  readonly person: { readonly email: string; readonly password: string };
  /** Extra accounts with the person's password hash, for the sign-in timing. */
  readonly signInEmails: readonly string[];
  readonly start: () => Promise<Server>;
}): Promise<{ server: Server; setup: DashboardSetup }> {
  const made = await createPerson(
    options.serverPath,
    options.db,
    options.env,
    options.person.email,
    options.person.password,
  );
  const { ms: createUserMs, ...person } = made;
  const seed = await seedOrganizationKeys(options.db, options.secret, person, options.keys);
  await cloneSignInAccounts(options.db, person.userId, options.signInEmails);
  const server = await options.start();
  const signedIn = await apiSignIn(server.url, person.email, person.password);
  if (signedIn.status !== 200) throw new Error(`API sign-in answered ${signedIn.status}: ${signedIn.body}`);
  const accessToken = (JSON.parse(signedIn.body) as { access_token: string }).access_token;
  const api: FixedRequest = { path: KEYS_API, headers: { authorization: `Bearer ${accessToken}` } };
  const list = await get(`${server.url}${KEYS_API}`, api.headers);
  const answer =
    list.status === 200 ? (JSON.parse(list.body) as { keys: unknown[]; total: number }) : undefined;
  const listed = answer?.keys.length ?? -1;
  if (listed !== Math.min(DEFAULT_LIST_LIMIT, options.keys) || answer?.total !== options.keys) {
    throw new Error(
      `GET ${KEYS_API} answered ${list.status} with ${listed} keys: ${list.body.slice(0, 300)}`,
    );
  }
  const page: FixedRequest = { path: KEYS_PAGE, headers: await formSignIn(server.url, person) };
  return {
    server,
    setup: {
      person,
      seed,
      createUserMs,
      api,
      page,
      pageWeight: await pageWeight(server.url, page, options.keys),
      jsonBytes: Buffer.byteLength(list.body),
      jsonKeys: listed,
    },
  };
}

export interface AttemptFigures {
  readonly attempts: number;
  /** Wall time per attempt as the client saw it. */
  readonly ms: { readonly p50: number; readonly max: number };
  /** The server process's CPU per attempt (user + system, libuv's threads included). */
  readonly cpuMsPerAttempt: number;
  /** /proc counts CPU in 10 ms ticks: below this per attempt, cpuMsPerAttempt reads 0. */
  readonly cpuResolutionMs: number;
  readonly statuses: Record<string, number>;
}

export interface SignInCost {
  readonly right: AttemptFigures;
  readonly wrong: AttemptFigures;
  /** Attempts refused by the per-account limit (429), before any scrypt. */
  readonly refused: AttemptFigures;
  /** `streams` clients signing in at once, each its own account and address (wrong passwords). */
  readonly burst: {
    readonly streams: number;
    readonly attempts: number;
    readonly attemptsPerSecond: number;
    readonly serverCpuPercent: number;
    readonly statuses: Record<string, number>;
    /** The server's VmHWM after the burst: scrypt N = 2^17 holds 128 MiB per attempt in flight. */
    readonly serverHwmMb: number;
  };
  /** The server's VmHWM before any of these attempts (after the two sign-ins of the setup). */
  readonly serverHwmBeforeMb: number;
  /** Accounts and client addresses used, to stay within 30 per address (and 50 failures per account). */
  readonly accounts: number;
  readonly addresses: readonly string[];
}

function figures(times: number[], cpuSeconds: number, statuses: Record<string, number>): AttemptFigures {
  const sorted = [...times].sort((a, b) => a - b);
  return {
    attempts: times.length,
    ms: { p50: median(sorted), max: sorted.at(-1) ?? Number.NaN },
    cpuMsPerAttempt: (cpuSeconds * 1000) / times.length,
    cpuResolutionMs: 10 / times.length,
    statuses,
  };
}

/** At most this many attempts per account (and its address): no limit is met by accident. */
export const ATTEMPTS_PER_ACCOUNT = 10;
/** The limit per address: 30 attempts per 15 minutes. */
const ATTEMPTS_PER_ADDRESS = 30;

/**
 * Times sign-ins against a running server: `attempts` with the right password and as many with
 * a wrong one, interleaved (so a busy moment of the machine hits both), one at a time; then
 * `refused` more from an address that has used up its 30 (429 before any scrypt); then a burst of
 * `streams` clients at once. Each account (the person's password, cloned) makes at most 10
 * attempts, each from its own 127.0.0.x address (30 per address), so no limit is met by
 * accident; the server's CPU is read from /proc before and after each series.
 */
export async function signInCost(
  server: Server,
  emails: readonly string[],
  password: string,
  options: {
    readonly attempts: number;
    readonly refused: number;
    readonly streams: number;
    readonly perStream: number;
  },
): Promise<SignInCost> {
  const wrongPassword = `${password}-wrong`;
  const hwmBefore = readMemory(server.pid)?.hwmKb ?? Number.NaN;
  const addresses: string[] = [];
  let account = 0;
  let used = 0;
  const nextSlot = (): { email: string; address: string } => {
    if (used === ATTEMPTS_PER_ACCOUNT) {
      account += 1;
      used = 0;
    }
    const email = emails[account];
    if (email === undefined) throw new Error(`the sign-in timing needs more than ${emails.length} accounts`);
    used += 1;
    const address = `127.0.0.${20 + account}`;
    if (!addresses.includes(address)) addresses.push(address);
    return { email, address };
  };
  const count = (statuses: Record<string, number>, status: number) => {
    statuses[status] = (statuses[status] ?? 0) + 1;
  };

  const series = { right: [] as number[], wrong: [] as number[] };
  const cpu = { right: 0, wrong: 0 };
  const statuses = { right: {} as Record<string, number>, wrong: {} as Record<string, number> };
  for (let i = 0; i < options.attempts * 2; i++) {
    const kind = i % 2 === 0 ? 'right' : 'wrong';
    const slot = nextSlot();
    const before = processCpuSeconds(server.pid);
    const answer = await apiSignIn(
      server.url,
      slot.email,
      kind === 'right' ? password : wrongPassword,
      slot.address,
    );
    cpu[kind] += processCpuSeconds(server.pid) - before;
    const expected = kind === 'right' ? 200 : 401;
    if (answer.status !== expected) {
      throw new Error(`a ${kind} sign-in answered ${answer.status} (expected ${expected}): ${answer.body}`);
    }
    series[kind].push(answer.ms);
    count(statuses[kind], answer.status);
  }

  // The first account's address has made its first 10 attempts: it makes the rest of its 30 (30
  // failures at most: under the account's cap of 50), and the next ones are refused.
  const spent = emails[0] as string;
  const spentAddress = '127.0.0.20';
  for (let made = Math.min(options.attempts * 2, ATTEMPTS_PER_ACCOUNT); made < ATTEMPTS_PER_ADDRESS; made++) {
    await apiSignIn(server.url, spent, wrongPassword, spentAddress);
  }
  const refusedTimes: number[] = [];
  const refusedStatuses: Record<string, number> = {};
  const refusedBefore = processCpuSeconds(server.pid);
  for (let i = 0; i < options.refused; i++) {
    const answer = await apiSignIn(server.url, spent, password, spentAddress);
    if (answer.status !== 429)
      throw new Error(`an attempt past the limit answered ${answer.status}: ${answer.body}`);
    refusedTimes.push(answer.ms);
    count(refusedStatuses, answer.status);
  }
  const refusedCpu = processCpuSeconds(server.pid) - refusedBefore;

  // The burst: fresh accounts, one stream each, all at once.
  if (used > 0) {
    account += 1;
    used = 0;
  }
  const streams = Array.from({ length: options.streams }, (_, index) => {
    const email = emails[account + index];
    if (email === undefined) throw new Error(`the sign-in burst needs more than ${emails.length} accounts`);
    const address = `127.0.0.${20 + account + index}`;
    addresses.push(address);
    return { email, address };
  });
  const burstStatuses: Record<string, number> = {};
  const burstCpuBefore = processCpuSeconds(server.pid);
  const burstStarted = performance.now();
  await Promise.all(
    streams.map(async (stream) => {
      for (let i = 0; i < options.perStream; i++) {
        const answer = await apiSignIn(server.url, stream.email, wrongPassword, stream.address);
        count(burstStatuses, answer.status);
      }
    }),
  );
  const burstSeconds = (performance.now() - burstStarted) / 1000;
  const burstCpu = processCpuSeconds(server.pid) - burstCpuBefore;
  const burstAttempts = options.streams * options.perStream;
  if (burstStatuses['401'] !== burstAttempts) {
    throw new Error(
      `the sign-in burst answered ${JSON.stringify(burstStatuses)}, not ${burstAttempts} x 401`,
    );
  }
  return {
    right: figures(series.right, cpu.right, statuses.right),
    wrong: figures(series.wrong, cpu.wrong, statuses.wrong),
    refused: figures(refusedTimes, refusedCpu, refusedStatuses),
    burst: {
      streams: options.streams,
      attempts: burstAttempts,
      attemptsPerSecond: burstAttempts / burstSeconds,
      serverCpuPercent: (burstCpu / burstSeconds) * 100,
      statuses: burstStatuses,
      serverHwmMb: (readMemory(server.pid)?.hwmKb ?? Number.NaN) / 1024,
    },
    serverHwmBeforeMb: hwmBefore / 1024,
    accounts: account + options.streams,
    addresses,
  };
}

/** How many accounts signInCost needs for these options. */
export function signInAccountsNeeded(options: {
  readonly attempts: number;
  readonly streams: number;
}): number {
  return Math.max(1, Math.ceil((options.attempts * 2) / ATTEMPTS_PER_ACCOUNT)) + options.streams;
}

/** scrypt verification alone, in this process (the server's own verifyPassword, production cost). */
export interface ScryptCost {
  readonly runs: number;
  readonly ms: { readonly p50: number; readonly p99: number };
  /** This process's CPU per verification (user + system, libuv's threads included). */
  readonly cpuMsPerRun: number;
}

export async function scryptCost(runs: number): Promise<ScryptCost> {
  const password = 'correct horse battery staple';
  const hash = await hashPassword(password);
  const times: number[] = [];
  const before = process.cpuUsage();
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    if (!(await verifyPassword(password, hash))) throw new Error('verifyPassword refused the right password');
    times.push(performance.now() - started);
  }
  const used = process.cpuUsage(before);
  const sorted = times.sort((a, b) => a - b);
  return {
    runs,
    ms: { p50: median(sorted), p99: percentile(sorted, 0.99) },
    cpuMsPerRun: (used.user + used.system) / 1000 / runs,
  };
}

export interface DashboardBenchOptions extends LoadOptions {
  readonly rounds: number;
  readonly serverPath: string;
  readonly barePath: string;
  /** Keys in the organization. */
  readonly keys: number;
  readonly signIn: {
    readonly attempts: number;
    readonly refused: number;
    readonly streams: number;
    readonly perStream: number;
  };
  readonly scryptRuns: number;
  readonly baseEnv: NodeJS.ProcessEnv;
  readonly postgresAdminUrl: string | undefined;
  readonly postgresDataDir: string | undefined;
}

export interface DashboardEngineResult {
  /** Without the requests (their tokens) and the password: the results file keeps no secret. */
  readonly setup: Omit<DashboardSetup, 'api' | 'page' | 'person'> & {
    readonly person: Omit<Person, 'password'>;
  };
  readonly api: LoadRun;
  readonly page: LoadRun;
  readonly signIn: SignInCost;
}

export interface DashboardBenchResult {
  readonly keys: number;
  readonly connections: number;
  /** bare node:http answering bodies as long as the page's HTML and the JSON list, same connections. */
  readonly bare: {
    readonly page: LoadRun;
    readonly json: LoadRun;
    readonly pageBytes: number;
    readonly jsonBytes: number;
  };
  readonly sqlite: DashboardEngineResult;
  readonly postgres: DashboardEngineResult | undefined;
  readonly scrypt: ScryptCost;
}

function log(text: string): void {
  process.stderr.write(`bench: ${text}\n`);
}

/** The round with the median req/s, as the status rows quote it. */
function medianRun(rounds: readonly LoadFigures[]): LoadRun {
  const sorted = [...rounds].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond);
  return { rotation: 1, load: sorted[Math.floor((sorted.length - 1) / 2)] as LoadFigures, rounds };
}

export async function dashboardBench(
  resources: Resources,
  options: DashboardBenchOptions,
): Promise<DashboardBenchResult> {
  const dir = await resources.tempDir('sekuire-bench-dashboard-');
  const databases: string[] = [];
  const secretHex = randomBytes(32).toString('hex');
  const env = { ...options.baseEnv, SEKUIRE_SERVER_SECRET: secretHex };
  const engines: Engine[] = options.postgresAdminUrl === undefined ? ['sqlite'] : ['sqlite', 'postgres'];
  const postgresCpu = options.postgresDataDir === undefined ? undefined : clusterCpu(options.postgresDataDir);
  const accounts = signInAccountsNeeded(options.signIn);
  const servers: Server[] = [];
  try {
    const prepared = new Map<Engine, { server: Server; setup: DashboardSetup; emails: string[] }>();
    for (const engine of engines) {
      let db: string;
      if (engine === 'sqlite') db = join(dir, 'dashboard.db');
      else {
        db = await createDatabase(options.postgresAdminUrl as string);
        databases.push(db);
      }
      const emails = Array.from({ length: accounts }, (_, index) => `sign-in-${index}@example.com`);
      log(
        `seeding an organization with ${options.keys} keys on ${engine} (its owner made by create-user)...`,
      );
      const { server, setup } = await prepareDashboard({
        serverPath: options.serverPath,
        db,
        env,
        secret: Buffer.from(secretHex, 'hex'),
        keys: options.keys,
        person: { email: 'owner@example.com', password: randomBytes(18).toString('base64url') },
        signInEmails: emails,
        start: () =>
          resources.startServer(
            `sekuire-server on ${engine}, dashboard`,
            startArgs(options.serverPath, db),
            env,
          ),
      });
      servers.push(server);
      log(
        `seeded in ${setup.seed.seconds.toFixed(2)} s; the API Keys page: ${setup.pageWeight.htmlBytes} bytes of HTML (${setup.pageWeight.rows} rows, "${setup.pageWeight.showing}"), ${setup.pageWeight.totalBytes} bytes with its assets; GET ${KEYS_API}: ${setup.jsonBytes} bytes, ${setup.jsonKeys} keys`,
      );
      prepared.set(engine, { server, setup, emails });
    }
    const reference = (prepared.get('sqlite') as { setup: DashboardSetup }).setup;
    const pageBytes = reference.pageWeight.htmlBytes;
    const jsonBytes = reference.jsonBytes;
    const barePage = await resources.startServer(
      'bare node:http (page)',
      [options.barePath, String(pageBytes)],
      env,
    );
    const bareJson = await resources.startServer(
      'bare node:http (list)',
      [options.barePath, String(jsonBytes)],
      env,
    );
    servers.push(barePage, bareJson);

    interface Target {
      readonly label: string;
      readonly engine: Engine | undefined;
      readonly server: Server;
      readonly request: FixedRequest;
      readonly rounds: LoadFigures[];
    }
    const targets: Target[] = [
      {
        label: `bare node:http, ${pageBytes}-byte body`,
        engine: undefined,
        server: barePage,
        request: { path: KEYS_PAGE, headers: {} },
        rounds: [],
      },
      {
        label: `bare node:http, ${jsonBytes}-byte body`,
        engine: undefined,
        server: bareJson,
        request: { path: KEYS_API, headers: {} },
        rounds: [],
      },
    ];
    for (const engine of engines) {
      const { server, setup } = prepared.get(engine) as { server: Server; setup: DashboardSetup };
      targets.push(
        {
          label: `${engine}, GET ${KEYS_API} (first ${Math.min(DEFAULT_LIST_LIMIT, options.keys)} of ${options.keys} keys)`,
          engine,
          server,
          request: setup.api,
          rounds: [],
        },
        {
          label: `${engine}, GET ${KEYS_PAGE} (first page)`,
          engine,
          server,
          request: setup.page,
          rounds: [],
        },
      );
    }
    for (let round = 1; round <= options.rounds; round++) {
      for (const target of targets) {
        log(
          `load: ${target.label}, ${options.connections} connections (round ${round}/${options.rounds})...`,
        );
        const load = await loadFixed(
          target.server.url,
          target.server.pid,
          target.request,
          options,
          target.engine === 'postgres' ? postgresCpu : undefined,
        );
        log(
          `${target.label}: ${load.requestsPerSecond.toFixed(0)} req/s, p50 ${load.latencyMs.p50} ms, p99 ${load.latencyMs.p99} ms, errors ${load.errors}, non2xx ${load.non2xx}, CPU server ${load.cpuPercent.server.toFixed(0)} % / autocannon ${load.cpuPercent.loadGenerator.toFixed(0)} %${load.cpuPercent.database === undefined ? '' : ` / PostgreSQL ${load.cpuPercent.database.toFixed(0)} %`}`,
        );
        target.rounds.push(load);
      }
    }
    await resources.stop(barePage.child);
    await resources.stop(bareJson.child);

    const results = new Map<Engine, DashboardEngineResult>();
    for (const [index, engine] of engines.entries()) {
      const { server, setup, emails } = prepared.get(engine) as {
        server: Server;
        setup: DashboardSetup;
        emails: string[];
      };
      log(
        `sign-in cost on ${engine}: ${options.signIn.attempts} right and ${options.signIn.attempts} wrong passwords, one at a time...`,
      );
      const signIn = await signInCost(server, emails, setup.person.password, options.signIn);
      log(
        `sign-in on ${engine}: right ${signIn.right.ms.p50.toFixed(0)} ms (CPU ${signIn.right.cpuMsPerAttempt.toFixed(0)} ms), wrong ${signIn.wrong.ms.p50.toFixed(0)} ms (CPU ${signIn.wrong.cpuMsPerAttempt.toFixed(0)} ms), refused ${signIn.refused.ms.p50.toFixed(1)} ms; burst of ${signIn.burst.streams}: ${signIn.burst.attemptsPerSecond.toFixed(1)} attempts/s, server CPU ${signIn.burst.serverCpuPercent.toFixed(0)} %, VmHWM ${signIn.burst.serverHwmMb.toFixed(0)} MB`,
      );
      await resources.stop(server.child);
      const { api: _api, page: _page, person, ...kept } = setup;
      results.set(engine, {
        setup: { ...kept, person: { email: person.email, userId: person.userId, orgId: person.orgId } },
        api: medianRun((targets[2 + index * 2] as Target).rounds),
        page: medianRun((targets[3 + index * 2] as Target).rounds),
        signIn,
      });
    }
    log(`scrypt verification in the bench process, ${options.scryptRuns} runs...`);
    const scrypt = await scryptCost(options.scryptRuns);
    log(`scrypt: ${scrypt.ms.p50.toFixed(0)} ms, CPU ${scrypt.cpuMsPerRun.toFixed(0)} ms per verification`);
    return {
      keys: options.keys,
      connections: options.connections,
      bare: {
        page: medianRun((targets[0] as Target).rounds),
        json: medianRun((targets[1] as Target).rounds),
        pageBytes,
        jsonBytes,
      },
      sqlite: results.get('sqlite') as DashboardEngineResult,
      postgres: results.get('postgres'),
      scrypt,
    };
  } finally {
    for (const server of servers) await resources.stop(server.child);
    if (options.postgresAdminUrl !== undefined) {
      for (const url of databases) await dropDatabase(options.postgresAdminUrl, url).catch(() => {});
    }
    await resources.removeDir(dir);
  }
}
