// People and their organizations as create-user and create-key leave them: memberships, roles,
// personal organizations.
import { afterEach, describe, expect, it } from 'vitest';
import { forEachEngine } from '../helpers/engines.js';
import { type Harness, harness } from './harness.js';

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
});
