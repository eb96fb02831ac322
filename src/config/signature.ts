import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { CompactSign, compactVerify } from 'jose';

/**
 * Signed policy: the information-protection officer signs the policy file; the gateway refuses a
 * file that is unsigned, modified after signing, or signed by a key that is not an officer trust
 * anchor. The signature is a compact JWS over the file's SHA-256 digest, kept beside it as
 * `<file>.sig`.
 */
export interface PolicySignature {
  readonly digest: string;
  readonly signer: string;
  readonly signedAt: string;
}

export interface TrustAnchor {
  readonly id: string;
  readonly key: KeyObject;
}

export function signatureFileOf(policyFile: string): string {
  return `${policyFile}.sig`;
}

function algorithmFor(key: KeyObject): 'EdDSA' | 'ES256' | 'RS256' {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec') return 'ES256';
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  throw new Error('the signing key must be Ed25519, EC P-256 or RSA');
}

/** `custodian policy sign`: write `<file>.sig` for the file's current bytes. */
export async function signPolicyFile(policyFile: string, privateKeyPem: string, signer: string): Promise<PolicySignature> {
  const key = createPrivateKey(privateKeyPem);
  const digest = createHash('sha256').update(readFileSync(policyFile)).digest('hex');
  const claim: PolicySignature = { digest, signer, signedAt: new Date().toISOString() };
  const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(claim)))
    .setProtectedHeader({ alg: algorithmFor(key), typ: 'custodian-policy+jws' })
    .sign(key);
  writeFileSync(signatureFileOf(policyFile), `${jws}\n`);
  return claim;
}

/** Trust anchors from a file of PEM public keys, each preceded by a `# id: <officer>` line. */
export function loadTrustAnchors(file: string): TrustAnchor[] {
  const text = readFileSync(file, 'utf8');
  const anchors: TrustAnchor[] = [];
  const re = /#\s*id:\s*(\S+)\s*\n(-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----)/g;
  for (const m of text.matchAll(re)) anchors.push({ id: m[1] as string, key: createPublicKey(m[2] as string) });
  if (anchors.length === 0) throw new Error(`no trust anchors in ${file} (expected "# id: <officer>" before each PEM public key)`);
  return anchors;
}

/**
 * Verify a policy file against the trust anchors. Returns the signature facts, or the reason the
 * file is refused (never the file's contents).
 */
export async function verifyPolicySignature(
  policyFile: string,
  fileBytes: Buffer,
  anchors: readonly TrustAnchor[],
): Promise<{ ok: true; signature: PolicySignature } | { ok: false; reason: string }> {
  const sigFile = signatureFileOf(policyFile);
  if (!existsSync(sigFile)) return { ok: false, reason: `the policy is not signed (no ${sigFile})` };
  const jws = readFileSync(sigFile, 'utf8').trim();
  for (const anchor of anchors) {
    let claim: PolicySignature;
    try {
      const { payload } = await compactVerify(jws, anchor.key, { algorithms: ['EdDSA', 'ES256', 'RS256'] });
      claim = JSON.parse(new TextDecoder().decode(payload)) as PolicySignature;
    } catch {
      continue;
    }
    const digest = createHash('sha256').update(fileBytes).digest('hex');
    if (claim.digest !== digest) return { ok: false, reason: `the policy was modified after ${anchor.id} signed it` };
    if (claim.signer !== anchor.id) return { ok: false, reason: `the signature names ${claim.signer} but was made with ${anchor.id}'s key` };
    return { ok: true, signature: claim };
  }
  return { ok: false, reason: 'the signature is not valid under any officer trust anchor' };
}
