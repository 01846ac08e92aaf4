// A signed `status` while sign-ins with unknown emails arrive in bursts (issue 20, M4): each costs
// a decoy scrypt (N = 2^17, ~275 ms) on libuv's pool. Run: npm run build && tsx test/bench/sign-in-burst.ts
// Prints the status latency alone and during the bursts (p50, p99, max), and how the sign-ins
// were answered. A figure to report, not a test: it depends on the machine and its load.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { memoryDeviceKey, signed } from '../helpers/device-keys.js';
import { apiSignIn } from './dashboard-bench.js';
import { Resources } from './processes.js';
import { percentile } from './stats.js';

const ROOT = resolve(import.meta.dirname, '../..');
const SERVER = join(ROOT, 'packages/server/dist/server.js');
const FINGERPRINT = 'c'.repeat(64);
const BURSTS = Number(process.env.BURSTS ?? 8);
const SIGN_INS_PER_BURST = 30;
const ALONE = 200;

function summary(label: string, times: number[]): string {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q: number) => percentile(sorted, q).toFixed(1);
  return `${label}: n=${sorted.length} p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${(sorted.at(-1) ?? 0).toFixed(1)} ms`;
}

async function main(): Promise<void> {
  const resources = new Resources();
  try {
    const dir = await resources.tempDir('sekuire-burst-');
    const db = join(dir, 'sekuire.db');
    const env = { ...process.env, SEKUIRE_SERVER_SECRET: randomBytes(32).toString('hex') };
    const key = execFileSync(
      process.execPath,
      [SERVER, 'create-key', '--db', db, '--email', 'cli@example.com'],
      {
        env,
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    )
      .toString()
      .trim();
    const server = await resources.startServer('server', [SERVER, 'start', '--db', db, '--port', '0'], env);
    const device = memoryDeviceKey();
    const loginBody = JSON.stringify({
      device: {
        fingerprint: FINGERPRINT,
        name: 'bench',
        os: 'linux',
        os_version: 'bench',
        arch: 'x64',
        public_key: device.publicJwk,
      },
    });
    const login = await fetch(`${server.url}/api/v1/cli/login`, {
      method: 'POST',
      headers: {
        'x-api-key': key,
        'content-type': 'application/json',
        ...signed(device, 'POST', `${server.url}/api/v1/cli/login`, loginBody),
      },
      body: loginBody,
    });
    if (login.status !== 200) throw new Error(`login answered ${login.status}: ${await login.text()}`);

    let failedStatuses = 0;
    /** Milliseconds until the answer; a status the server failed to answer counts its wait too. */
    const status = async (): Promise<number> => {
      const started = performance.now();
      try {
        const answer = await fetch(`${server.url}/api/v1/cli/status`, {
          headers: {
            'x-api-key': key,
            'x-sekuire-device': FINGERPRINT,
            ...signed(device, 'GET', `${server.url}/api/v1/cli/status`, undefined),
          },
        });
        await answer.arrayBuffer();
        if (answer.status !== 200) failedStatuses += 1;
      } catch {
        failedStatuses += 1;
      }
      return performance.now() - started;
    };

    const alone: number[] = [];
    for (let i = 0; i < ALONE; i++) alone.push(await status());

    const during: number[] = [];
    const answers: Record<string, number> = {};
    let burstMs = 0;
    for (let burst = 0; burst < BURSTS; burst++) {
      let done = false;
      const started = performance.now();
      // Each sign-in from an address of its own, so no limit answers before the hash.
      const signIns = Promise.all(
        Array.from({ length: SIGN_INS_PER_BURST }, (_, index) =>
          apiSignIn(
            server.url,
            `nobody-${burst}-${index}@example.com`,
            'not a password',
            `127.0.${1 + burst}.${1 + index}`,
          ).catch(
            // A server that cannot answer in time closes the connection: counted as "error".
            () => ({ status: 'error' }),
          ),
        ),
      ).then((results) => {
        done = true;
        for (const result of results) answers[result.status] = (answers[result.status] ?? 0) + 1;
      });
      while (!done) during.push(await status());
      await signIns;
      burstMs += performance.now() - started;
    }
    console.log(summary('status alone', alone));
    console.log(summary(`status during ${BURSTS} bursts of ${SIGN_INS_PER_BURST} sign-ins`, during));
    console.log(`statuses not answered 200: ${failedStatuses}`);
    console.log(
      `sign-ins answered: ${JSON.stringify(answers)}; a burst lasted ${(burstMs / BURSTS).toFixed(0)} ms on average`,
    );
  } finally {
    await resources.releaseAll();
  }
}

await main();
