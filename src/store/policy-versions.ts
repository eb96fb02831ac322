import type { Db } from './db.js';

/** One loaded policy version as kept in the store. */
export interface PolicyVersion {
  readonly instance: string;
  /** The version id: the first 12 hex digits of the digest. */
  readonly version: string;
  /** SHA-256 (hex) of the policy file's bytes. */
  readonly digest: string;
  readonly signer: string | null;
  readonly cosigners: readonly string[];
  readonly signedAt: string | null;
  readonly loadedAt: string;
  /** `start`, `reload (SIGHUP)` or `admin API (<officer>)`. */
  readonly loadedBy: string | null;
  readonly previousDigest: string | null;
  readonly revealing: boolean;
  /** The impact report's lines against the version it replaced. */
  readonly impact: readonly string[];
}

export interface NewPolicyVersion extends Omit<PolicyVersion, 'loadedAt' | 'version'> {
  readonly text: string;
}

export async function recordPolicyVersionRow(db: Db, v: NewPolicyVersion): Promise<void> {
  await db.query(
    `INSERT INTO policy_versions (instance_id, version, digest, signer, signed_at, cosigners, policy_text, loaded_by, previous_digest, impact, revealing)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [v.instance, v.digest.slice(0, 12), v.digest, v.signer, v.signedAt, v.cosigners, v.text, v.loadedBy, v.previousDigest, JSON.stringify(v.impact), v.revealing],
  );
}

type Row = {
  instance_id: string;
  version: string;
  digest: string;
  signer: string | null;
  cosigners: string[] | null;
  signed_at: Date | string | null;
  loaded_at: Date | string;
  loaded_by: string | null;
  previous_digest: string | null;
  impact: string | null;
  revealing: boolean | null;
};

const iso = (t: Date | string | null) => (t === null ? null : new Date(t).toISOString());

function versionOf(r: Row): PolicyVersion {
  return {
    instance: r.instance_id,
    version: r.version,
    digest: r.digest,
    signer: r.signer,
    cosigners: r.cosigners ?? [],
    signedAt: iso(r.signed_at),
    loadedAt: iso(r.loaded_at) as string,
    loadedBy: r.loaded_by,
    previousDigest: r.previous_digest,
    revealing: r.revealing ?? false,
    impact: r.impact ? (JSON.parse(r.impact) as string[]) : [],
  };
}

/** Every load, newest first. */
export async function listPolicyVersions(db: Db, limit = 200): Promise<PolicyVersion[]> {
  const { rows } = await db.query<Row>(
    `SELECT instance_id, version, digest, signer, cosigners, signed_at, loaded_at, loaded_by, previous_digest, impact, revealing
     FROM policy_versions ORDER BY loaded_at DESC LIMIT $1`,
    [limit],
  );
  return rows.map(versionOf);
}

/** The newest kept version's digest and text (what a starting gateway compares itself with). */
export async function latestPolicyText(db: Db): Promise<{ digest: string; text: string } | undefined> {
  const { rows } = await db.query<{ digest: string; policy_text: string }>(
    'SELECT digest, policy_text FROM policy_versions WHERE policy_text IS NOT NULL ORDER BY loaded_at DESC LIMIT 1',
  );
  const row = rows[0];
  return row ? { digest: row.digest, text: row.policy_text } : undefined;
}

/**
 * The exact text of a version, by its id or any longer prefix of its digest (at least 8 hex
 * digits). Throws when the prefix names no kept text, or more than one version.
 */
export async function policyTextOf(db: Db, id: string): Promise<{ digest: string; text: string }> {
  if (!/^[0-9a-f]{8,64}$/.test(id)) throw new Error(`"${id}" is not a policy version id (8 to 64 hex digits of its SHA-256)`);
  const { rows } = await db.query<{ digest: string; policy_text: string }>(
    'SELECT DISTINCT digest, policy_text FROM policy_versions WHERE policy_text IS NOT NULL AND starts_with(digest, $1)',
    [id],
  );
  const digests = new Set(rows.map((r) => r.digest));
  if (digests.size === 0) throw new Error(`no kept policy version ${id}`);
  if (digests.size > 1) throw new Error(`${id} names ${digests.size} versions: give more digits`);
  const row = rows[0] as { digest: string; policy_text: string };
  return { digest: row.digest, text: row.policy_text };
}
