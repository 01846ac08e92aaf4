// The SQLite schema, as an ordered list of migrations; PRAGMA user_version counts those applied.

// Never edit an entry once released: append a new one. STRICT tables reject values of the
// wrong type instead of storing them; every lookup on the request path has an index.
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
  ) STRICT;

  CREATE TABLE organizations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    created_at TEXT NOT NULL
  ) STRICT;

  CREATE TABLE workspaces (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organizations (id),
    name TEXT NOT NULL COLLATE NOCASE,
    created_at TEXT NOT NULL,
    UNIQUE (org_id, name)
  ) STRICT;

  CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    digest BLOB NOT NULL UNIQUE CHECK (length(digest) = 32),
    masked TEXT NOT NULL,
    environment TEXT NOT NULL CHECK (environment IN ('live', 'test')),
    name TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT
  ) STRICT;
  CREATE INDEX api_keys_user ON api_keys (user_id);
  CREATE INDEX api_keys_workspace ON api_keys (workspace_id);

  CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL REFERENCES api_keys (id),
    fingerprint TEXT NOT NULL CHECK (length(fingerprint) = 64),
    name TEXT NOT NULL,
    os TEXT NOT NULL,
    os_version TEXT NOT NULL,
    arch TEXT NOT NULL,
    bound_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    unbound_at TEXT
  ) STRICT;
  -- The binding rule itself: at most one active device per key, whatever the code does.
  CREATE UNIQUE INDEX devices_active_per_key ON devices (key_id) WHERE unbound_at IS NULL;
  CREATE INDEX devices_key ON devices (key_id);

  -- No foreign key on key_id: the trail must outlive anything it mentions.
  CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    event TEXT NOT NULL,
    key_id TEXT,
    fingerprint TEXT,
    device_name TEXT,
    client_ip TEXT,
    detail TEXT CHECK (detail IS NULL OR json_valid(detail))
  ) STRICT;
  CREATE INDEX audit_events_key ON audit_events (key_id, id);
  `,
  // 2: every user gets an organization of their own and a role in each organization they
  // have keys in (members, the least privilege: an owner can be named with create-user); keys
  // get a type and the time they were last used.
  `
  CREATE TABLE memberships (
    user_id TEXT NOT NULL REFERENCES users (id),
    org_id TEXT NOT NULL REFERENCES organizations (id),
    role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, org_id)
  ) STRICT;
  CREATE INDEX memberships_org ON memberships (org_id);
  INSERT INTO memberships (user_id, org_id, role, created_at)
    SELECT k.user_id, w.org_id, 'member', MIN(k.created_at)
    FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id
    GROUP BY k.user_id, w.org_id;

  ALTER TABLE organizations ADD COLUMN personal_user_id TEXT REFERENCES users (id);
  CREATE UNIQUE INDEX organizations_personal ON organizations (personal_user_id)
    WHERE personal_user_id IS NOT NULL;

  ALTER TABLE api_keys ADD COLUMN type TEXT NOT NULL DEFAULT 'client' CHECK (type IN ('client', 'server'));
  ALTER TABLE api_keys ADD COLUMN last_used_at TEXT;
  `,
  // 3: people sign in (a scrypt hash, never the password), with sessions whose tokens are
  // stored as digests; keys can be rolled; the audit trail names the person who acted.
  `
  ALTER TABLE users ADD COLUMN password_hash TEXT;
  ALTER TABLE users ADD COLUMN last_login_at TEXT;
  ALTER TABLE api_keys ADD COLUMN replaced_by TEXT;
  ALTER TABLE devices ADD COLUMN last_ip TEXT;
  ALTER TABLE audit_events ADD COLUMN actor_user_id TEXT;
  CREATE INDEX audit_events_actor ON audit_events (actor_user_id, id);

  CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL CHECK (kind IN ('api', 'cookie')),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    ended_at TEXT,
    end_reason TEXT,
    client_ip TEXT
  ) STRICT;
  CREATE INDEX sessions_user ON sessions (user_id);

  CREATE TABLE session_tokens (
    digest BLOB PRIMARY KEY CHECK (length(digest) = 32),
    session_id TEXT NOT NULL REFERENCES sessions (id),
    kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh', 'cookie')),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
  ) STRICT;
  CREATE INDEX session_tokens_session ON session_tokens (session_id);
  `,
  // 4: browser and device-code login (no key pasted): one row per request, its secret (the
  // one-time code, or the device code) stored only as a digest.
  `
  CREATE TABLE cli_grants (
    id TEXT PRIMARY KEY,
    flow TEXT NOT NULL CHECK (flow IN ('loopback', 'device')),
    secret_digest BLOB NOT NULL UNIQUE CHECK (length(secret_digest) = 32),
    user_code TEXT UNIQUE,
    redirect_uri TEXT,
    code_challenge TEXT,
    fingerprint TEXT,
    device_name TEXT NOT NULL,
    device_os TEXT NOT NULL,
    os_version TEXT,
    arch TEXT,
    requested_ip TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    interval_seconds INTEGER,
    last_polled_at TEXT,
    approved_by TEXT REFERENCES users (id),
    approved_at TEXT,
    denied_at TEXT,
    exchanged_at TEXT,
    key_id TEXT
  ) STRICT;
  `,
  // 5: device proof. A binding holds the public half of the device's key pair (NULL for a
  // binding made before, until that device logs in again), and a move to another device waits
  // for a person's approval in device_moves. (The replay cache of proofs was in memory only
  // until migration 11.)
  `
  ALTER TABLE devices ADD COLUMN public_key TEXT CHECK (public_key IS NULL OR json_valid(public_key));
  ALTER TABLE devices ADD COLUMN key_thumbprint TEXT;
  ALTER TABLE cli_grants ADD COLUMN public_key TEXT;
  ALTER TABLE cli_grants ADD COLUMN key_thumbprint TEXT;

  CREATE TABLE device_moves (
    id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL REFERENCES api_keys (id),
    user_code TEXT NOT NULL UNIQUE,
    from_device_id TEXT,
    fingerprint TEXT NOT NULL,
    device_name TEXT NOT NULL,
    device_os TEXT NOT NULL,
    os_version TEXT NOT NULL,
    arch TEXT NOT NULL,
    public_key TEXT NOT NULL CHECK (json_valid(public_key)),
    key_thumbprint TEXT NOT NULL,
    requested_ip TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    interval_seconds INTEGER NOT NULL,
    last_polled_at TEXT,
    decided_by TEXT REFERENCES users (id),
    approved_at TEXT,
    denied_at TEXT,
    device_id TEXT
  ) STRICT;
  CREATE INDEX device_moves_key ON device_moves (key_id);
  `,
  // 6: sign-in attempts are counted here rather than in each server's memory, so every server
  // on this database shares the limits and a restart does not reset them.
  `
  CREATE TABLE sign_in_counts (
    key TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    window_ends_at TEXT NOT NULL
  ) STRICT;
  CREATE INDEX sign_in_counts_window ON sign_in_counts (window_ends_at);
  `,
  // 7: emails in one form (domain/emails.ts): ASCII letters in lower case, as SQLite's lower()
  // makes them. Stored so, they are found by equality on both engines.
  `
  UPDATE users SET email = lower(email);
  `,
  // 8: retention (domain/retention.ts) deletes what has expired, a batch at a time: each batch
  // finds its rows by these indexes instead of scanning the table. `audit --since/--until` too.
  `
  CREATE INDEX cli_grants_expiry ON cli_grants (expires_at);
  CREATE INDEX device_moves_expiry ON device_moves (expires_at);
  CREATE INDEX sessions_expiry ON sessions (expires_at);
  CREATE INDEX sessions_ended ON sessions (ended_at);
  CREATE INDEX session_tokens_expiry ON session_tokens (expires_at);
  CREATE INDEX audit_events_at ON audit_events (at);
  `,
  // 9: which server secret made each key's and token's digest (domain/digest.ts secretId), so
  // rotate-secret can count what still depends on an older one. NULL: made before this column,
  // under the one secret there was then.
  `
  ALTER TABLE api_keys ADD COLUMN secret_id TEXT;
  ALTER TABLE session_tokens ADD COLUMN secret_id TEXT;
  `,
  // 10: why a key was revoked when someone other than its owner revoked it (domain/leaks.ts):
  // found by GitHub's secret scanning (with where), or reported through the public revocation
  // endpoint. The owner's dashboard shows it. A table of its own: most keys never have a row.
  `
  CREATE TABLE key_revocations (
    key_id TEXT PRIMARY KEY REFERENCES api_keys (id),
    at TEXT NOT NULL,
    reason TEXT NOT NULL CHECK (reason IN ('leaked', 'reported')),
    url TEXT,
    source TEXT,
    token_type TEXT
  ) STRICT;
  `,
  // 11: the replay cache of device proofs, in the database as on PostgreSQL (its migration 5):
  // a restart, or another process on this file, must not accept a proof seen within the window.
  `
  CREATE TABLE proof_nonces (
    id TEXT PRIMARY KEY,
    expires_at TEXT NOT NULL
  ) STRICT;
  CREATE INDEX proof_nonces_expiry ON proof_nonces (expires_at);
  `,
  // 12: permissions on keys (domain/permissions.ts): a JSON array of strings chosen when the key
  // is made; '[]' (none) for every key made before.
  `
  ALTER TABLE api_keys ADD COLUMN permissions TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(permissions));
  `,
  // 13: the new key's environment and lifetime as the person approving a CLI login chose them
  // (login --web / --device). NULL environment: a grant made before this column, or a device
  // grant not yet approved; its key gets the one default (KEY_DEFAULTS). With an environment,
  // a NULL key_expires_in_days means the key never expires.
  `
  ALTER TABLE cli_grants ADD COLUMN key_environment TEXT CHECK (key_environment IN ('test', 'live'));
  ALTER TABLE cli_grants ADD COLUMN key_expires_in_days INTEGER;
  `,
];
