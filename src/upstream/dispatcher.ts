import { Agent, Pool } from 'undici';
import type { UpstreamConfig } from '../config/types.js';

/**
 * One undici Agent for all upstreams, with a connection pool per origin configured from that
 * upstream's settings: its own CA bundle (certificates always verified) and its timeouts.
 * An origin that is not a configured upstream gets no pool at all.
 */
export function createUpstreamDispatcher(upstreams: ReadonlyMap<string, UpstreamConfig>): Agent {
  const byOrigin = new Map<string, UpstreamConfig>();
  for (const u of upstreams.values()) byOrigin.set(u.origin, u);

  return new Agent({
    factory(origin, options) {
      const key = typeof origin === 'string' ? origin : origin.origin;
      const upstream = byOrigin.get(key);
      if (!upstream) throw new Error('refusing to connect to an origin that is not a configured upstream');
      return new Pool(origin, {
        ...options,
        connections: 128,
        connectTimeout: upstream.connectTimeoutMs,
        headersTimeout: upstream.responseTimeoutMs,
        bodyTimeout: upstream.responseTimeoutMs,
        connect: {
          // Never disable verification: a configured CA replaces the system roots.
          rejectUnauthorized: true,
          ...(upstream.ca ? { ca: upstream.ca } : {}),
        },
      });
    },
  });
}
