import type { Config, UpstreamConfig } from '../config/types.js';
import { compileRoutes, type RouteTable } from './routes.js';

/**
 * The immutable, compiled form of a configuration: everything the per-request path needs,
 * prepared once. A reload builds a new Policy and swaps it in whole.
 */
export interface Policy {
  readonly config: Config;
  readonly routes: RouteTable;
  readonly upstreams: ReadonlyMap<string, UpstreamConfig>;
}

export function compilePolicy(config: Config): Policy {
  const { table, issues } = compileRoutes(config.routes);
  // loadConfig already reported these with line numbers; a config that reaches here is clean.
  if (issues.length > 0) throw new Error(`policy does not compile: ${issues.map((i) => i.message).join('; ')}`);
  return Object.freeze({ config, routes: table, upstreams: config.upstreams });
}

/** Holds the running policy; `swap` is atomic for every request that starts afterwards. */
export class PolicyHolder {
  #current: Policy;

  constructor(initial: Policy) {
    this.#current = initial;
  }

  get current(): Policy {
    return this.#current;
  }

  swap(next: Policy): void {
    this.#current = next;
  }
}
