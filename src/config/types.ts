/**
 * Types of the configuration after it has been validated, given its defaults, had its secrets
 * resolved and been frozen. The YAML shape is defined by config/custodian.schema.json; these
 * types are what the rest of the gateway reads.
 */

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

export interface Address {
  readonly host: string;
  readonly port: number;
}

export interface TlsConfig {
  /** PEM text, or undefined in demo mode before the development certificate is generated. */
  readonly cert: string | undefined;
  readonly key: string | undefined;
  readonly minVersion: 'TLSv1.2' | 'TLSv1.3';
  readonly clientCa: string | undefined;
  readonly clientCertificate: 'none' | 'request' | 'require';
}

export interface Limits {
  readonly maxPathLength: number;
  readonly maxHeaderBytes: number;
  readonly maxBodyBytes: number;
}

export interface UpstreamConfig {
  readonly name: string;
  /** Origin without a trailing slash, e.g. https://loans.internal:8443 */
  readonly origin: string;
  readonly ca: string | undefined;
  readonly allowPlaintext: boolean;
  readonly connectTimeoutMs: number;
  readonly responseTimeoutMs: number;
  readonly forwardAuthorization: boolean;
}

export interface RouteConfig {
  readonly id: string;
  readonly methods: readonly HttpMethod[];
  readonly path: string;
  readonly upstream: string;
}

export interface Config {
  /** Absolute path of the file this came from, for messages and reloads. */
  readonly source: string;
  /** Directory relative file references resolve against. */
  readonly baseDir: string;
  readonly mode: 'production' | 'demo';
  readonly listen: {
    readonly data: Address;
    readonly plaintext: Address | undefined;
    readonly admin: Address;
  };
  readonly tls: TlsConfig;
  readonly limits: Limits;
  readonly upstreams: ReadonlyMap<string, UpstreamConfig>;
  readonly routes: readonly RouteConfig[];
}
