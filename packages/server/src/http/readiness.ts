// GET /api/v1/ready: may a load balancer send requests here (the database answers, changes are heard, not stopping).
import type { FastifyInstance } from 'fastify';
import { StoreError } from '../store/errors.js';
import type { Store } from '../store/store.js';
import { ApiError } from './api-error.js';

export const READY_PATH = '/api/v1/ready';
/** A database slower than this to answer `SELECT 1` is not one to send traffic to. */
const PING_TIMEOUT_MS = 2_000;

function notReady(message: string): ApiError {
  return new ApiError('service_unavailable', message, {}, { 'retry-after': '1' });
}

/** Rejects with a StoreError after PING_TIMEOUT_MS, so a hung connection cannot hang the probe. */
async function pingWithin(store: Store): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new StoreError('unavailable', 'The database did not answer in time.')),
      PING_TIMEOUT_MS,
    );
  });
  try {
    await Promise.race([store.ping(), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** `stopping`: true from the stop signal on (start.ts), while requests in flight finish. */
export function installReadiness(app: FastifyInstance, store: Store, stopping: () => boolean): void {
  app.get(READY_PATH, async () => {
    if (stopping()) throw notReady('The server is shutting down.');
    try {
      await pingWithin(store);
    } catch (error) {
      if (!(error instanceof StoreError)) throw error;
      throw notReady(`The database does not answer: ${error.message}`);
    }
    // Without LISTEN this instance still answers right (it reads the database every time), but
    // it has lost its line to the database: better let the other instances serve.
    if (store.engine === 'postgres' && !store.listening()) {
      throw notReady('Not listening for changes on PostgreSQL (its LISTEN connection is down).');
    }
    return { status: 'ready' };
  });
}
