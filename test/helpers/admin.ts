import { request } from 'undici';
import { testKey } from './gateway.js';
import { mint } from './tokens.js';

/** POST to the admin API as the information-protection officer; the status and the parsed body. */
export async function asOfficer(adminUrl: string, path: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const officer = await mint(testKey, { sub: 'officer.li', roles: ['information_officer'] });
  const res = await request(`${adminUrl}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${officer}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.statusCode, body: await res.body.json().catch(() => undefined) };
}
