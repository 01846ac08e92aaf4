// Set-up shared by end-to-end files: one reference server per file; machines and fake backends removed after each test.
import { afterAll, afterEach, beforeAll } from 'vitest';
import { Machine } from './cli.js';
import { type FakeBackend, type Handler, startFakeBackend } from './fake-backend.js';
import { startServer, type TestServer } from './server.js';

export interface EndToEnd {
  /** The reference server of this file (started in beforeAll). */
  readonly server: TestServer;
  /** A scratch machine pointed at the server; `env` is added to the file's defaults. */
  machine(id: string, env?: Record<string, string>): Machine;
  /** A misbehaving backend for one test. */
  fake(handler: Handler): Promise<FakeBackend>;
}

export function useReferenceServer(defaults: Record<string, string> = {}): EndToEnd {
  let server: TestServer | undefined;
  const cleanups: (() => unknown)[] = [];
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.stop();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });
  const e2e: EndToEnd = {
    get server(): TestServer {
      if (!server) throw new Error('the reference server is started in beforeAll');
      return server;
    },
    machine(id, env = {}) {
      const machine = new Machine(id, { SEKUIRE_BACKEND_URL: e2e.server.url, ...defaults, ...env });
      cleanups.push(() => machine.cleanup());
      return machine;
    },
    async fake(handler) {
      const backend = await startFakeBackend(handler);
      cleanups.push(() => backend.close());
      return backend;
    },
  };
  return e2e;
}
