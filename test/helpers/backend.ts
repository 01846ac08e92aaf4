// Set-up for in-process command tests: one reference server per file, machines and fake backends removed after each test.
import { afterAll, afterEach, beforeAll } from 'vitest';
import { TestMachine } from './context.js';
import { type FakeBackend, type Handler, startFakeBackend } from './fake-backend.js';
import { startServer, type TestServer } from './server.js';

export interface Backend {
  /** The reference server of this file (started in beforeAll). */
  readonly server: TestServer;
  /** A scratch machine pointed at the server; `machineId` null: a machine without one. */
  machine(name: string, env?: Record<string, string | undefined>, machineId?: string | null): TestMachine;
  /** A misbehaving backend for one test. */
  fake(handler: Handler): Promise<FakeBackend>;
}

export function useBackend(defaults: Record<string, string> = {}): Backend {
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
  const backend: Backend = {
    get server(): TestServer {
      if (!server) throw new Error('the reference server is started in beforeAll');
      return server;
    },
    machine(name, env = {}, machineId) {
      const machine = new TestMachine(
        name,
        { SEKUIRE_BACKEND_URL: backend.server.url, ...defaults, ...env },
        machineId,
      );
      cleanups.push(() => machine.cleanup());
      return machine;
    },
    async fake(handler) {
      const fake = await startFakeBackend(handler);
      cleanups.push(() => fake.close());
      return fake;
    },
  };
  return backend;
}
