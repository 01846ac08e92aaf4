// Every query of the server, bound to one executor: the store's, or a transaction's.
import type { Sql } from '../sql.js';
import { accountQueries } from './accounts.js';
import { auditQueries } from './audit.js';
import { bindingHistoryQueries } from './binding-history.js';
import { deviceQueries } from './devices.js';
import { grantQueries } from './grants.js';
import { keyQueries } from './keys.js';
import { memberQueries } from './members.js';
import { moveQueries } from './moves.js';
import { nonceQueries } from './nonces.js';
import { retentionQueries } from './retention.js';
import { revocationQueries } from './revocations.js';
import { sessionQueries } from './sessions.js';
import { signInCountQueries } from './sign-in-counts.js';

export function queries(sql: Sql) {
  return {
    accounts: accountQueries(sql),
    keys: keyQueries(sql),
    devices: deviceQueries(sql),
    audit: auditQueries(sql),
    sessions: sessionQueries(sql),
    grants: grantQueries(sql),
    moves: moveQueries(sql),
    nonces: nonceQueries(sql),
    signInCounts: signInCountQueries(sql),
    retention: retentionQueries(sql),
    revocations: revocationQueries(sql),
    bindingHistory: bindingHistoryQueries(sql),
    members: memberQueries(sql),
  };
}

export type Queries = ReturnType<typeof queries>;
