import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { CompactSign, compactVerify } from 'jose';

/** What a checkpoint signs: the head of one instance's chain at a moment. */
export interface CheckpointClaim {
  readonly instance: string;
  readonly seq: number;
  readonly hash: string;
  readonly time: string;
}

/** Sign a chain head with the Ed25519 checkpoint key (compact JWS, EdDSA). */
export async function signCheckpoint(claim: CheckpointClaim, key: KeyObject): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claim))).setProtectedHeader({ alg: 'EdDSA', typ: 'custodian-checkpoint' }).sign(key);
}

/** The signed claim, or undefined when the signature does not verify under `publicKey`. */
export async function verifyCheckpoint(jws: string, publicKey: KeyObject): Promise<CheckpointClaim | undefined> {
  try {
    const { payload } = await compactVerify(jws, publicKey, { algorithms: ['EdDSA'] });
    return JSON.parse(new TextDecoder().decode(payload)) as CheckpointClaim;
  } catch {
    return undefined;
  }
}

export function checkpointKeyFromPem(pem: string): { privateKey: KeyObject; publicKey: KeyObject } {
  const privateKey = createPrivateKey(pem);
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error('the checkpoint key must be an Ed25519 private key');
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/** Demo mode only: an Ed25519 checkpoint key under var/, made at first start. */
export function ensureDemoCheckpointKey(file: string): string {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  }
  return readFileSync(file, 'utf8');
}
