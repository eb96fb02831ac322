import type { DetectorKind } from '../mask/detectors.js';
/**
 * Types of the configuration after it has been validated, given its defaults, had its secrets
 * resolved and been frozen. The YAML shape is defined by config/custodian.schema.json; these
 * types are what the rest of the gateway reads.
 */

import type { OperatorSpec } from '../mask/operators.js';

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

export interface AdminTlsConfig {
  readonly cert: string | undefined;
  readonly key: string | undefined;
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
  /** The Host the upstream is asked for: its origin's host and port (port omitted when default). */
  readonly host: string;
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
  /** Purposes that may be declared on this route; empty means every request is refused. */
  readonly purposes: readonly string[];
  /** Fields the dictionary does not know: dropped unless the route says keep. */
  readonly unknownFields: 'drop' | 'keep';
  /** Scan released free text for identifiers (only an explicit false turns it off). */
  readonly detectors: boolean;
  /** The kinds of identifier the detectors look for on this route (all unless the route lists some). */
  readonly detectorKinds: readonly DetectorKind[];
  /** Decide and report, but release the upstream body unchanged. */
  readonly observe: boolean;
  /** Purposes for which a non-JSON body may pass through untransformed. */
  readonly passthrough: readonly string[];
  /** Per-purpose views; a purpose without one gets the default view. */
  readonly views: Readonly<Record<string, ViewConfig>>;
  /** Where the customer ids this route touches are found. */
  readonly subjects: readonly SubjectSource[];
  /** Four-eyes: every request needs a single-use approval by another person. */
  readonly destructive: boolean;
  /** Upstream response headers released beyond the defaults (see upstream/response-header-policy). */
  readonly responseHeaders: { readonly release: readonly string[]; readonly scan: readonly string[] };
}

export type SubjectSource = { readonly param: string } | { readonly query: string } | { readonly jsonPath: string };

export interface AuditConfig {
  /** Configured chain id, or undefined to make one per journal directory. */
  readonly instanceId: string | undefined;
  /** Absolute, or undefined for <var>/audit. */
  readonly journalDir: string | undefined;
  readonly durability: 'before_release' | 'async';
  readonly spoolBudgetBytes: number;
  readonly segmentBytes: number;
  readonly retentionDays: number;
  /** Shipped journal segments kept on the pod's disk (the journal is a spool, not the archive). */
  readonly localTail: { readonly maxBytes: number; readonly maxAgeMs: number; readonly checkEveryMs: number };
  readonly subjectsCap: number;
  readonly shipIntervalMs: number;
  /** Ed25519 PKCS#8 PEM; undefined only in demo mode (a demo key is made under var/). */
  readonly checkpointKey: string | undefined;
  readonly checkpointEveryRecords: number;
  readonly checkpointEverySeconds: number;
  /** Forwarding of shipped records to the company's log platform, when configured. */
  readonly forward: ForwardConfig | undefined;
}

export interface ForwardConfig {
  /** RFC 5424 syslog over TLS (RFC 5425 octet-counted frames). */
  readonly syslog: { readonly host: string; readonly port: number; readonly ca: string | undefined; readonly serverName: string; readonly facility: number } | undefined;
  /** Absolute path of a JSON-lines file the records are appended to. */
  readonly jsonLinesFile: string | undefined;
  readonly intervalMs: number;
  readonly batch: number;
}

export interface StoreConfig {
  /** PostgreSQL URL, or undefined for the embedded store. */
  readonly databaseUrl: string | undefined;
  readonly embeddedDir: string | undefined;
}

export type DataClass = 'C3' | 'C2' | 'C1' | 'public';

/** A view operator: a concrete operator, or `default` for the dictionary's operator of the field. */
export type ViewOperator = OperatorSpec | 'default';

export interface ViewConfig {
  readonly classes: Readonly<Partial<Record<DataClass, ViewOperator>>>;
  readonly fields: Readonly<Record<string, ViewOperator>>;
}

export interface ClassificationEntry {
  readonly class: DataClass;
  /** What happens to the field when a view does not say otherwise (C2) or asks for `default`. */
  readonly operator: OperatorSpec;
}

export interface Classification {
  /** By key name, at any depth. */
  readonly fields: ReadonlyMap<string, ClassificationEntry>;
  /** By JSON path ($.items[*].remarks); takes precedence over the name. */
  readonly paths: ReadonlyMap<string, ClassificationEntry>;
}

export interface MaskingConfig {
  /** Bodies larger than this (or of unknown length) that are JSON arrays are masked as a stream. */
  readonly streamThresholdBytes: number;
  /** Largest body buffered whole; a larger non-array body is refused. */
  readonly maxBufferedBytes: number;
  /** Cap on decompressed output when an upstream compresses despite being asked not to. */
  readonly maxDecompressedBytes: number;
  readonly pseudonymKeys: ReadonlyMap<string, string>;
  readonly activePseudonymKey: string | undefined;
}

export type CallerKind = 'staff' | 'service' | 'partner';

/** Attestation name → valid until (epoch seconds), or true for one that does not lapse. */
export type Attestations = Readonly<Record<string, number | true>>;

export interface PrincipalTemplate {
  readonly subject: string;
  readonly kind: CallerKind;
  readonly organisation: string | undefined;
  readonly roles: readonly string[];
  readonly attestations: Attestations;
}

export interface IssuerConfig {
  readonly id: string;
  readonly issuer: string;
  readonly audience: readonly string[];
  readonly algorithms: readonly string[];
  readonly jwks:
    | {
        readonly url: string;
        readonly cacheMaxAgeSec: number;
        readonly cooldownSec: number;
        readonly timeoutMs: number;
      }
    | undefined;
  /** Static public keys (PEM or JWK text). */
  readonly keys: readonly { readonly kid: string | undefined; readonly key: string }[];
  readonly claims: {
    readonly subject: string;
    readonly roles: string;
    readonly kind: string;
    readonly defaultKind: CallerKind;
    readonly organisation: string;
    readonly attestations: string;
  };
}

export interface PartnerConfig {
  readonly id: string;
  readonly name: string | undefined;
  readonly contract: string;
  /** The NDA's reference, and the end of its last day (epoch seconds) when it expires. */
  readonly nda: string;
  readonly ndaExpiresAt: number | undefined;
  /** The security review; expiresAt: end of its last valid day (epoch seconds). */
  readonly securityReview: { readonly ref: string; readonly date: string; readonly expiresAt: number };
  readonly purposes: readonly string[];
  readonly fields: readonly string[];
  /** Epoch seconds: start of validFrom's day, end of validUntil's day (UTC). */
  readonly validFrom: number;
  readonly validUntil: number;
}

/** How an application proves who it is. */
export type ClientIdentity =
  | { readonly certificate: { readonly cn?: string; readonly uri?: string } }
  | { readonly token: { readonly issuer: string; readonly subject: string } };

/** An existing application that calls through the gateway without knowing of it. */
export interface ClientConfig {
  readonly id: string;
  readonly name: string | undefined;
  readonly identity: ClientIdentity;
  /** Route id → the purposes the application serves there; the first is its default. */
  readonly routes: ReadonlyMap<string, readonly string[]>;
  /** The purposes it uses through the PostgreSQL front end (the first is its default); none: it may not. */
  readonly database: readonly string[] | undefined;
  /** Roles and attestations of the application acting on its own (no end user). */
  readonly roles: readonly string[];
  readonly attestations: Attestations;
  readonly endUser:
    | {
        readonly required: boolean;
        /** A header carrying the user's own token (lower case), and the issuers trusted for it. */
        readonly token: { readonly header: string; readonly issuers: readonly string[] | undefined } | undefined;
        /** A header naming the user (lower case), and what the application vouches for. */
        readonly header: { readonly name: string; readonly kind: CallerKind; readonly roles: readonly string[]; readonly attestations: Attestations } | undefined;
      }
    | undefined;
}

export interface ClientCertificateMapping {
  readonly match: { readonly cn?: string; readonly uri?: string };
  readonly principal: PrincipalTemplate;
}

export interface AuthConfig {
  readonly purposeHeader: string;
  readonly clockToleranceSec: number;
  readonly maxTokenLifetimeSec: number;
  readonly maxTokenBytes: number;
  readonly tokenCacheMaxEntries: number;
  readonly requireCertificateFor: readonly CallerKind[];
  readonly requireTokenFor: readonly CallerKind[];
  readonly requireBoundTokenFor: readonly CallerKind[];
  readonly issuers: readonly IssuerConfig[];
  readonly clientCertificates: readonly ClientCertificateMapping[];
}

export interface PurposeConfig {
  readonly id: string;
  readonly description: string;
  readonly lawfulBasis: 'contract' | 'legal_obligation' | 'consent';
  readonly roles: readonly string[];
  readonly callerKinds: readonly CallerKind[];
  readonly requiredAttestations: readonly string[];
  readonly approvedBy: string;
  /** Last day (UTC, inclusive) the officer's review covers, YYYY-MM-DD. */
  readonly reviewUntil: string;
  readonly bulkLimit: { readonly windowSeconds: number; readonly alertAt: number | undefined; readonly refuseAt: number } | undefined;
}

export interface Config {
  /** Absolute path of the file this came from, for messages and reloads. */
  readonly source: string;
  /** Directory relative file references resolve against. */
  readonly baseDir: string;
  /** SHA-256 (hex) of the file's bytes. */
  readonly digest: string;
  /** The file's text exactly as read (UTF-8 of exactly those bytes): kept with the version. */
  readonly text: string;
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
  readonly auth: AuthConfig;
  readonly purposes: readonly PurposeConfig[];
  readonly classification: Classification;
  readonly masking: MaskingConfig;
  readonly audit: AuditConfig;
  readonly store: StoreConfig;
  readonly policy: {
    readonly requireSignature: boolean;
    readonly trustAnchorsFile: string | undefined;
    /** A revealing change needs a second officer's signature. */
    readonly fourEyes: boolean;
    /** Production mode with `requireSignature: false` written out: warned, counted, alerted. */
    readonly unsignedInProduction: boolean;
  };
  /** Policy test files (absolute paths) every load of this policy must pass. */
  readonly policyTests: readonly string[];
  readonly admin: {
    readonly officerRoles: readonly string[];
    readonly approverRoles: readonly string[];
    /** Read every list, history and report on the admin plane; change nothing. */
    readonly auditorRoles: readonly string[];
    readonly restrictionRefreshMs: number;
    readonly consentRefreshMs: number;
    /** HTTPS for the admin plane; cert and key undefined: the data plane's are used. */
    readonly tls: AdminTlsConfig | undefined;
  };
  readonly partners: ReadonlyMap<string, PartnerConfig>;
  /** Existing applications calling through the gateway unchanged. */
  readonly clients: readonly ClientConfig[];
  /** The PostgreSQL front end, when configured. */
  readonly database: DatabaseConfig | undefined;
}

export interface DatabaseTableConfig {
  readonly name: string;
  /** Column holding the customer id. */
  readonly subject: string | undefined;
  readonly purposes: readonly string[];
  /** Column (lower case) → the dictionary field it holds. */
  readonly columns: ReadonlyMap<string, string>;
}

export interface DatabaseConfig {
  readonly listen: Address;
  readonly upstream: {
    readonly url: string;
    readonly password: string | undefined;
    readonly ca: string | undefined;
    readonly allowPlaintext: boolean;
    readonly maxSessions: number;
  };
  readonly purposes: readonly string[];
  readonly tables: ReadonlyMap<string, DatabaseTableConfig>;
  readonly views: Readonly<Record<string, ViewConfig>>;
  readonly functions: readonly string[];
  readonly maxMessageBytes: number;
  /** Seconds between catalogue re-reads (OID.attnum → policy column). */
  readonly catalogueRefreshSeconds: number;
}
