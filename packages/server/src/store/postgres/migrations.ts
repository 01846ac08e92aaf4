// The PostgreSQL schema, as an ordered list of migrations recorded in schema_migrations.

// Never edit an entry once released: append a new one. Each entry holds the same tables as the
// SQLite migrations up to the same point (timestamps as ISO-8601 text on both engines, so the
// shared queries compare them the same way), plus what several instances need to agree on.
export const MIGRATIONS: readonly string[] = [
  // 1: the schema of SQLite's migrations 1 and 2, and the instance registry.
  `
  CREATE TABLE users (
    id text PRIMARY KEY,
    email text NOT NULL,
    name text NOT NULL,
    created_at text NOT NULL
  );
  CREATE UNIQUE INDEX users_email ON users (lower(email));

  CREATE TABLE organizations (
    id text PRIMARY KEY,
    name text NOT NULL,
    created_at text NOT NULL,
    personal_user_id text REFERENCES users (id)
  );
  CREATE UNIQUE INDEX organizations_name ON organizations (lower(name));
  CREATE UNIQUE INDEX organizations_personal ON organizations (personal_user_id)
    WHERE personal_user_id IS NOT NULL;

  CREATE TABLE workspaces (
    id text PRIMARY KEY,
    org_id text NOT NULL REFERENCES organizations (id),
    name text NOT NULL,
    created_at text NOT NULL
  );
  CREATE UNIQUE INDEX workspaces_name ON workspaces (org_id, lower(name));

  CREATE TABLE memberships (
    user_id text NOT NULL REFERENCES users (id),
    org_id text NOT NULL REFERENCES organizations (id),
    role text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at text NOT NULL,
    PRIMARY KEY (user_id, org_id)
  );
  CREATE INDEX memberships_org ON memberships (org_id);

  CREATE TABLE api_keys (
    id text PRIMARY KEY,
    digest bytea NOT NULL UNIQUE CHECK (octet_length(digest) = 32),
    masked text NOT NULL,
    environment text NOT NULL CHECK (environment IN ('live', 'test')),
    type text NOT NULL DEFAULT 'client' CHECK (type IN ('client', 'server')),
    name text NOT NULL,
    user_id text NOT NULL REFERENCES users (id),
    workspace_id text NOT NULL REFERENCES workspaces (id),
    created_at text NOT NULL,
    expires_at text,
    revoked_at text,
    last_used_at text
  );
  CREATE INDEX api_keys_user ON api_keys (user_id);
  CREATE INDEX api_keys_workspace ON api_keys (workspace_id);

  CREATE TABLE devices (
    id text PRIMARY KEY,
    key_id text NOT NULL REFERENCES api_keys (id),
    fingerprint text NOT NULL CHECK (length(fingerprint) = 64),
    name text NOT NULL,
    os text NOT NULL,
    os_version text NOT NULL,
    arch text NOT NULL,
    bound_at text NOT NULL,
    last_seen_at text NOT NULL,
    unbound_at text
  );
  -- The binding rule itself: at most one active device per key, whatever the code does.
  CREATE UNIQUE INDEX devices_active_per_key ON devices (key_id) WHERE unbound_at IS NULL;
  CREATE INDEX devices_key ON devices (key_id);

  -- No foreign key on key_id: the trail must outlive anything it mentions.
  CREATE TABLE audit_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at text NOT NULL,
    event text NOT NULL,
    key_id text,
    fingerprint text,
    device_name text,
    client_ip text,
    detail text CHECK (detail IS NULL OR detail::jsonb IS NOT NULL)
  );
  CREATE INDEX audit_events_key ON audit_events (key_id, id);

  -- Serving instances: each renews a lease while its LISTEN connection is up, and
  -- acknowledges every cache invalidation it received (see postgres/listener.ts).
  CREATE TABLE sekuire_instances (
    id text PRIMARY KEY,
    pid integer NOT NULL,
    host text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz NOT NULL
  );
  CREATE TABLE sekuire_cache_acks (
    instance_id text NOT NULL,
    epoch bigint NOT NULL,
    acked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (epoch, instance_id)
  );
  CREATE SEQUENCE sekuire_cache_epoch;

  -- Changes made outside sekuire (an UPDATE typed in psql) reach every instance as well: these
  -- columns decide what a key may do. Epoch 0 asks for no acknowledgement. Last-used and
  -- last-seen times are left out: they change often and decide nothing.
  CREATE FUNCTION sekuire_cache_changed() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM pg_notify('sekuire_cache', '0');
    RETURN NULL;
  END $$;
  CREATE TRIGGER api_keys_changed AFTER UPDATE OF digest, revoked_at, expires_at, type, user_id, workspace_id
    OR DELETE ON api_keys FOR EACH STATEMENT EXECUTE FUNCTION sekuire_cache_changed();
  CREATE TRIGGER devices_changed AFTER INSERT OR UPDATE OF key_id, fingerprint, unbound_at OR DELETE
    ON devices FOR EACH STATEMENT EXECUTE FUNCTION sekuire_cache_changed();
  CREATE TRIGGER accounts_changed AFTER UPDATE OR DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION sekuire_cache_changed();
  `,
  // 3: as SQLite's 3: sign-in, sessions (token digests only), rolled keys, acting users.
  `
  ALTER TABLE users ADD COLUMN password_hash text;
  ALTER TABLE users ADD COLUMN last_login_at text;
  ALTER TABLE api_keys ADD COLUMN replaced_by text;
  ALTER TABLE devices ADD COLUMN last_ip text;
  ALTER TABLE audit_events ADD COLUMN actor_user_id text;
  CREATE INDEX audit_events_actor ON audit_events (actor_user_id, id);

  CREATE TABLE sessions (
    id text PRIMARY KEY,
    user_id text NOT NULL REFERENCES users (id),
    kind text NOT NULL CHECK (kind IN ('api', 'cookie')),
    created_at text NOT NULL,
    expires_at text NOT NULL,
    ended_at text,
    end_reason text,
    client_ip text
  );
  CREATE INDEX sessions_user ON sessions (user_id);

  CREATE TABLE session_tokens (
    digest bytea PRIMARY KEY CHECK (octet_length(digest) = 32),
    session_id text NOT NULL REFERENCES sessions (id),
    kind text NOT NULL CHECK (kind IN ('access', 'refresh', 'cookie')),
    created_at text NOT NULL,
    expires_at text NOT NULL,
    used_at text
  );
  CREATE INDEX session_tokens_session ON session_tokens (session_id);

  -- Signing in writes last_login_at: only a new email or name changes what a cached key shows.
  DROP TRIGGER accounts_changed ON users;
  CREATE TRIGGER accounts_changed AFTER UPDATE OF email, name OR DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION sekuire_cache_changed();
  `,
  // 4: as SQLite's 4: browser and device-code login requests.
  `
  CREATE TABLE cli_grants (
    id text PRIMARY KEY,
    flow text NOT NULL CHECK (flow IN ('loopback', 'device')),
    secret_digest bytea NOT NULL UNIQUE CHECK (octet_length(secret_digest) = 32),
    user_code text UNIQUE,
    redirect_uri text,
    code_challenge text,
    fingerprint text,
    device_name text NOT NULL,
    device_os text NOT NULL,
    os_version text,
    arch text,
    requested_ip text,
    created_at text NOT NULL,
    expires_at text NOT NULL,
    interval_seconds integer,
    last_polled_at text,
    approved_by text REFERENCES users (id),
    approved_at text,
    denied_at text,
    exchanged_at text,
    key_id text
  );
  `,
  // 5: as SQLite's 5: device keys on bindings, moves awaiting approval; plus the replay cache
  // of device proofs shared by every instance (domain/proofs.ts). UNLOGGED: no WAL write per
  // request; after a crash of PostgreSQL itself the table starts empty, and what it forgot is
  // at most PROOF_WINDOW_S old (README, "Security").
  `
  ALTER TABLE devices ADD COLUMN public_key text CHECK (public_key IS NULL OR public_key::jsonb IS NOT NULL);
  ALTER TABLE devices ADD COLUMN key_thumbprint text;
  ALTER TABLE cli_grants ADD COLUMN public_key text;
  ALTER TABLE cli_grants ADD COLUMN key_thumbprint text;

  CREATE TABLE device_moves (
    id text PRIMARY KEY,
    key_id text NOT NULL REFERENCES api_keys (id),
    user_code text NOT NULL UNIQUE,
    from_device_id text,
    fingerprint text NOT NULL,
    device_name text NOT NULL,
    device_os text NOT NULL,
    os_version text NOT NULL,
    arch text NOT NULL,
    public_key text NOT NULL CHECK (public_key::jsonb IS NOT NULL),
    key_thumbprint text NOT NULL,
    requested_ip text,
    created_at text NOT NULL,
    expires_at text NOT NULL,
    interval_seconds integer NOT NULL,
    last_polled_at text,
    decided_by text REFERENCES users (id),
    approved_at text,
    denied_at text,
    device_id text
  );
  CREATE INDEX device_moves_key ON device_moves (key_id);

  CREATE UNLOGGED TABLE proof_nonces (
    id text PRIMARY KEY,
    expires_at text NOT NULL
  );
  CREATE INDEX proof_nonces_expiry ON proof_nonces (expires_at);

  -- The device key decides what a binding accepts: a change to it reaches every instance.
  DROP TRIGGER devices_changed ON devices;
  CREATE TRIGGER devices_changed
    AFTER INSERT OR UPDATE OF key_id, fingerprint, unbound_at, public_key, key_thumbprint OR DELETE
    ON devices FOR EACH STATEMENT EXECUTE FUNCTION sekuire_cache_changed();
  `,
  // As SQLite's 6: sign-in attempts counted in the database, shared by every instance.
  // UNLOGGED like proof_nonces: after a crash the counts start again, which only forgives.
  `
  CREATE UNLOGGED TABLE sign_in_counts (
    key text PRIMARY KEY,
    count integer NOT NULL,
    window_ends_at text NOT NULL
  );
  CREATE INDEX sign_in_counts_window ON sign_in_counts (window_ends_at);
  `,
  // As SQLite's 7: emails in one form (domain/emails.ts), unique as stored. lower() under the
  // database's locale folded more than ASCII ("İ" to "i"), and SQLite's never did; with the C
  // collation lower() folds ASCII only, like normalizeEmail.
  `
  UPDATE users SET email = lower(email COLLATE "C") WHERE email <> lower(email COLLATE "C");
  DROP INDEX users_email;
  CREATE UNIQUE INDEX users_email ON users (email);
  `,
  // As SQLite's 8: the indexes the retention purge (domain/retention.ts) and `audit --since/--until`
  // find their rows by.
  `
  CREATE INDEX cli_grants_expiry ON cli_grants (expires_at);
  CREATE INDEX device_moves_expiry ON device_moves (expires_at);
  CREATE INDEX sessions_expiry ON sessions (expires_at);
  CREATE INDEX sessions_ended ON sessions (ended_at);
  CREATE INDEX session_tokens_expiry ON session_tokens (expires_at);
  CREATE INDEX audit_events_at ON audit_events (at);
  `,
  // As SQLite's 9: which server secret made each key's and token's digest (domain/digest.ts secretId), so
  // rotate-secret can count what still depends on an older one. NULL: made before this column,
  // under the one secret there was then.
  `
  ALTER TABLE api_keys ADD COLUMN secret_id text;
  ALTER TABLE session_tokens ADD COLUMN secret_id text;
  `,
  // As SQLite's 10: why a key was revoked when someone other than its owner revoked it.
  `
  CREATE TABLE key_revocations (
    key_id text PRIMARY KEY REFERENCES api_keys (id),
    at text NOT NULL,
    reason text NOT NULL CHECK (reason IN ('leaked', 'reported')),
    url text,
    source text,
    token_type text
  );
  `,
  // 11, as SQLite's 12: permissions on keys (domain/permissions.ts), a JSON array of strings as text.
  `
  ALTER TABLE api_keys ADD COLUMN permissions text NOT NULL DEFAULT '[]';
  `,
  // 12: as SQLite's 13: the new key's environment and lifetime as the person approving a CLI
  // login chose them; NULL environment: the one default.
  `
  ALTER TABLE cli_grants ADD COLUMN key_environment text CHECK (key_environment IN ('test', 'live'));
  ALTER TABLE cli_grants ADD COLUMN key_expires_in_days integer;
  `,
];
