// Starts one throwaway PostgreSQL cluster for the whole run (tests make a database each), unless skipped.
import type { TestProject } from 'vitest/node';
import { type Cluster, SKIP_VARIABLE, startCluster, stopCluster } from './helpers/postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The cluster of this run; null when PostgreSQL tests are skipped on purpose. */
    postgres: Cluster | null;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env[SKIP_VARIABLE] === '1') {
    process.stderr.write(`\nPostgreSQL tests are SKIPPED: ${SKIP_VARIABLE}=1.\n\n`);
    project.provide('postgres', null);
    return async () => {};
  }
  const cluster = await startCluster();
  project.provide('postgres', cluster);
  return () => stopCluster(cluster);
}
