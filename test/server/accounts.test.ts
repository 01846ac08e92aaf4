// People and their organizations as create-user and create-key leave them: memberships, roles,
// personal organizations.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../packages/server/src/store/open.js';
import { MIGRATIONS } from '../../packages/server/src/store/sqlite/migrations.js';
import { forEachEngine } from '../helpers/engines.js';
import { type Harness, harness } from './harness.js';

describe('emails stored before they had one form', () => {
  it('are brought to it (ASCII in lower case) when the database is upgraded', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sekuire-emails-'));
    try {
      const db = join(dir, 'old.db');
      const raw = new Database(db);
      for (const migration of MIGRATIONS.slice(0, 6)) raw.exec(migration);
      raw.pragma('user_version = 6');
      raw
        .prepare('INSERT INTO users (id, email, name, created_at) VALUES (?, ?, ?, ?)')
        .run('user_old', 'Bob.\u00C5s@Example.COM', 'Bob', '2030-01-01T00:00:00.000Z');
      raw.close();
      const store = await openStore(db);
      try {
        expect(await store.read.accounts.userByEmail('bob.\u00C5s@example.com')).toEqual({
          id: 'user_old',
          email: 'bob.\u00C5s@example.com',
          name: 'Bob',
        });
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

forEachEngine((engine) => {
  let h: Harness;
  afterEach(async () => {
    expect(h.logged).toEqual([]);
    await h.close();
  });

  const organizations = async () =>
    (await h.sql.all<{ name: string }>('SELECT name FROM organizations ORDER BY name')).map(
      (row) => row.name,
    );

  describe('a new password for someone who exists', () => {
    it('without --org, leaves their memberships as they are and names the one they have', async () => {
      h = await harness({ engine });
      const joined = await h.createUser({ email: 'bob@example.com', organization: 'Acme' });
      expect(joined.role).toBe('owner');
      const member = await h.createUser({ email: 'eve@example.com', organization: 'Acme' });
      expect(member.role).toBe('member');
      const reset = await h.createUser({ email: 'eve@example.com', password: 'a brand new passphrase' });
      expect({ organization: reset.organization, role: reset.role, created: reset.created }).toEqual({
        organization: joined.organization,
        role: 'member',
        created: false,
      });
      expect(await h.store.read.accounts.memberships(member.user.id)).toEqual([
        { id: joined.organization.id, name: 'Acme', role: 'member' },
      ]);
      expect(await organizations()).toEqual(['Acme']);
    });

    it('names their own organization when they have one, as its owner', async () => {
      h = await harness({ engine });
      const own = await h.createUser({ email: 'ada@example.com' });
      await h.createUser({ email: 'ada@example.com', organization: 'Acme', role: 'admin' });
      const reset = await h.createUser({ email: 'ada@example.com', password: 'a brand new passphrase' });
      expect({ organization: reset.organization, role: reset.role }).toEqual({
        organization: own.organization,
        role: 'owner',
      });
      const memberships = await h.store.read.accounts.memberships(own.user.id);
      expect(memberships.map((row) => `${row.name}: ${row.role}`).sort()).toEqual([
        'Acme: admin',
        'Personal (ada@example.com): owner',
      ]);
    });
  });
  describe("a person's own organization is never found by its name", () => {
    it('--org naming it is refused, and whoever tried joins nothing', async () => {
      h = await harness({ engine });
      const bob = await h.createUser({ email: 'bob@example.com' });
      expect(bob.organization.name).toBe('Personal (bob@example.com)');
      await expect(
        h.createUser({
          email: 'mallory@example.com',
          organization: 'personal (BOB@example.com)',
          role: 'owner',
        }),
      ).rejects.toThrow('"personal (BOB@example.com)" is a person\'s own organization');
      await expect(
        h.createKey({ email: 'mallory@example.com', organization: 'Personal (bob@example.com)' }),
      ).rejects.toThrow("is a person's own organization");
      expect(await organizations()).toEqual(['Personal (bob@example.com)']);
      expect(await h.sql.all('SELECT email FROM users ORDER BY email')).toEqual([
        { email: 'bob@example.com' },
      ]);
    });

    it('an organization someone else gave that name earlier stays theirs; the person gets one of their own', async () => {
      h = await harness({ engine });
      // As a database from before names were kept could hold it.
      const mallory = await h.createUser({ email: 'mallory@example.com', organization: 'Soon taken' });
      await h.sql.run('UPDATE organizations SET name = ? WHERE id = ?', [
        'Personal (bob@example.com)',
        mallory.organization.id,
      ]);
      const created = await h.createKey({ email: 'bob@example.com' });
      expect(created.organization.id).not.toBe(mallory.organization.id);
      expect(created.organization.name).toBe(`Personal (bob@example.com) ${created.user.id}`);
      expect(await h.store.read.accounts.personalOrganization(created.user.id)).toEqual(created.organization);
      expect(await h.store.read.accounts.memberships(mallory.user.id)).toEqual([
        { id: mallory.organization.id, name: 'Personal (bob@example.com)', role: 'owner' },
      ]);
      // The next key finds the same one, by whose it is.
      expect((await h.createKey({ email: 'bob@example.com' })).organization).toEqual(created.organization);
    });
  });
});
