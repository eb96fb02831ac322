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

/** The signature file's text beside a policy file, when there is one. */
export function signatureTextOf(policyFile: string): string | undefined {
  const sigFile = signatureFileOf(policyFile);
  return existsSync(sigFile) ? readFileSync(sigFile, 'utf8') : undefined;
}

/** A signature line over `bytes` by `privateKeyPem`, naming `signer`. */
export async function signPolicyBytes(bytes: Buffer, privateKeyPem: string, signer: string): Promise<{ claim: PolicySignature; jws: string }> {
  const key = createPrivateKey(privateKeyPem);
  const digest = createHash('sha256').update(bytes).digest('hex');
  const claim: PolicySignature = { digest, signer, signedAt: new Date().toISOString() };
  const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(claim)))
    .setProtectedHeader({ alg: algorithmFor(key), typ: 'custodian-policy+jws' })
    .sign(key);
  return { claim, jws };
}

/**
 * `custodian policy sign`: write `<file>.sig` for the file's current bytes. With `cosign`, add
 * this officer's signature to those already there (a second pair of eyes on a revealing change);
 * they must be for the same bytes.
 */
export async function signPolicyFile(policyFile: string, privateKeyPem: string, signer: string, options: { cosign?: boolean } = {}): Promise<PolicySignature> {
  const bytes = readFileSync(policyFile);
  const { claim, jws } = await signPolicyBytes(bytes, privateKeyPem, signer);
  const sigFile = signatureFileOf(policyFile);
  if (!options.cosign) {
    writeFileSync(sigFile, `${jws}\n`);
    return claim;
  }
  if (!existsSync(sigFile)) throw new Error(`nothing to co-sign: ${sigFile} does not exist (sign it first)`);
  const lines = signatureLines(readFileSync(sigFile, 'utf8'));
  for (const line of lines) {
    const earlier = JSON.parse(Buffer.from(line.split('.')[1] ?? '', 'base64url').toString('utf8')) as PolicySignature;
    if (earlier.digest !== claim.digest) throw new Error(`${sigFile} signs another version of the file (sha256 ${earlier.digest.slice(0, 16)}…): sign this version first`);
    if (earlier.signer === signer) throw new Error(`${signer} has already signed this version: a co-signature is another officer's`);
  }
  writeFileSync(sigFile, `${[...lines, jws].join('\n')}\n`);
  return claim;
}

/** The JWS lines of a signature file's text. */
export function signatureLines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
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
 * Verify the signatures over a policy's bytes: every line of the signature text must be a valid
 * signature by a trust anchor over exactly these bytes, each by a different officer; the first
 * is the editor's, any further ones co-signatures. Returns the signatures in order, or the reason
 * the policy is refused (never the policy's contents).
 */
export async function verifyPolicySignatures(
  bytes: Buffer,
  signatureText: string | undefined,
  anchors: readonly TrustAnchor[],
): Promise<{ ok: true; signatures: PolicySignature[] } | { ok: false; reason: string }> {
  const lines = signatureText === undefined ? [] : signatureLines(signatureText);
  if (lines.length === 0) return { ok: false, reason: 'the policy is not signed' };
  const digest = createHash('sha256').update(bytes).digest('hex');
  const signatures: PolicySignature[] = [];
  for (const [i, jws] of lines.entries()) {
    const result = await verifyOne(jws, digest, anchors);
    if (!result.ok) return { ok: false, reason: lines.length > 1 ? `signature ${i + 1}: ${result.reason}` : result.reason };
    if (signatures.some((s) => s.signer === result.signature.signer)) return { ok: false, reason: `${result.signature.signer} signed twice: a co-signature must be another officer's` };
    signatures.push(result.signature);
  }
  return { ok: true, signatures };
}

async function verifyOne(jws: string, digest: string, anchors: readonly TrustAnchor[]): Promise<{ ok: true; signature: PolicySignature } | { ok: false; reason: string }> {
  for (const anchor of anchors) {
    let claim: PolicySignature;
    try {
      const { payload } = await compactVerify(jws, anchor.key, { algorithms: ['EdDSA', 'ES256', 'RS256'] });
      claim = JSON.parse(new TextDecoder().decode(payload)) as PolicySignature;
    } catch {
      continue;
    }
    if (claim.digest !== digest) return { ok: false, reason: `the policy was modified after ${anchor.id} signed it` };
    if (claim.signer !== anchor.id) return { ok: false, reason: `the signature names ${claim.signer} but was made with ${anchor.id}'s key` };
    return { ok: true, signature: claim };
  }
  return { ok: false, reason: 'the signature is not valid under any officer trust anchor' };
}

/** Verify a policy file and its `<file>.sig` (see verifyPolicySignatures). */
export async function verifyPolicySignature(
  policyFile: string,
  fileBytes: Buffer,
  anchors: readonly TrustAnchor[],
): Promise<{ ok: true; signature: PolicySignature; signatures: PolicySignature[] } | { ok: false; reason: string }> {
  const signatureText = signatureTextOf(policyFile);
  if (signatureText === undefined) return { ok: false, reason: `the policy is not signed (no ${signatureFileOf(policyFile)})` };
  const result = await verifyPolicySignatures(fileBytes, signatureText, anchors);
  return result.ok ? { ok: true, signature: result.signatures[0] as PolicySignature, signatures: result.signatures } : result;
}
