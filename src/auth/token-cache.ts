import { LRUCache } from 'lru-cache';
import { sha256 } from '../sha256.js';
import type { VerifiedToken } from './jwt.js';

/**
 * Verified-token cache. Keyed by a SHA-256 digest so the cache never holds a token; an entry
 * never outlives the token's `exp` (checked on every hit against the injected clock, and
 * bounded by the LRU's own TTL). Only successful verifications are cached.
 */
export class TokenCache {
  readonly #lru: LRUCache<string, VerifiedToken> | undefined;
  readonly #now: () => number;
  hits = 0;
  misses = 0;

  constructor(maxEntries: number, now: () => number = Date.now) {
    this.#now = now;
    this.#lru = maxEntries > 0 ? new LRUCache({ max: maxEntries, ttlAutopurge: false }) : undefined;
  }

  static digest(token: string): string {
    return sha256(token, 'base64url');
  }

  get(digest: string): VerifiedToken | undefined {
    const entry = this.#lru?.get(digest);
    if (entry && entry.exp * 1000 > this.#now()) {
      this.hits++;
      return entry;
    }
    if (entry) this.#lru?.delete(digest);
    this.misses++;
    return undefined;
  }

  set(digest: string, token: VerifiedToken): void {
    const ttl = token.exp * 1000 - this.#now();
    if (ttl > 0) this.#lru?.set(digest, token, { ttl });
  }
}
