/**
 * The one catalogue of Custodian error codes. Every refusal a client sees carries one of these
 * codes; the status and the safe message come from here, so no handler can improvise a message
 * that echoes a token or a personal value. README.md documents every code (a test enforces it).
 */

interface CodeSpec {
  readonly status: number;
  /** Safe, fixed text shown to the client. Never interpolated with request data. */
  readonly message: string;
}

const catalogue = {
  // Transport and request shape
  CUSTODIAN_TLS_REQUIRED: { status: 403, message: 'This listener does not serve data; use HTTPS.' },
  CUSTODIAN_PATH_INVALID: {
    status: 400,
    message:
      'The request path is ambiguous or malformed (encoded slash or backslash, dot segment, double encoding, control byte, or too long).',
  },
  CUSTODIAN_BAD_REQUEST: { status: 400, message: 'The request could not be parsed.' },
  CUSTODIAN_HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are too large.' },
  CUSTODIAN_BODY_TOO_LARGE: { status: 413, message: 'The request body is too large.' },
  CUSTODIAN_ROUTE_NOT_FOUND: { status: 404, message: 'No route is configured for this method and path.' },
  // Upstream
  CUSTODIAN_UPSTREAM_UNAVAILABLE: { status: 503, message: 'The upstream service refused the connection.' },
  CUSTODIAN_UPSTREAM_TIMEOUT: { status: 504, message: 'The upstream service did not answer in time.' },
  CUSTODIAN_UPSTREAM_ERROR: { status: 502, message: 'The upstream service failed or sent an invalid response.' },
  CUSTODIAN_UPSTREAM_TLS: { status: 502, message: 'The upstream certificate could not be verified.' },
  // Response transform (masking)
  CUSTODIAN_TRANSFORM_UNSUPPORTED_CONTENT: {
    status: 502,
    message: 'The upstream answered with a content type this route cannot mask; nothing was released.',
  },
  CUSTODIAN_TRANSFORM_INVALID_BODY: {
    status: 502,
    message: 'The upstream body is not valid JSON (or is nested too deeply); nothing was released.',
  },
  CUSTODIAN_TRANSFORM_TRUNCATED: { status: 502, message: 'The upstream body ended early; nothing was released.' },
  CUSTODIAN_TRANSFORM_TOO_LARGE: {
    status: 502,
    message: 'The upstream body is larger than the gateway will buffer for masking; nothing was released.',
  },
  CUSTODIAN_TRANSFORM_ENCODING: {
    status: 502,
    message: 'The upstream body uses an unsupported or oversized content encoding; nothing was released.',
  },
  // Authentication
  CUSTODIAN_AUTH_MISSING: { status: 401, message: 'A bearer token is required in the Authorization header.' },
  CUSTODIAN_AUTH_INVALID: { status: 401, message: 'The bearer token is not valid.' },
  CUSTODIAN_AUTH_EXPIRED: { status: 401, message: 'The bearer token has expired.' },
  CUSTODIAN_CLIENT_CERT_REQUIRED: {
    status: 403,
    message: 'This caller must present a verified client certificate (and a token bound to it where required).',
  },
  CUSTODIAN_END_USER_REQUIRED: {
    status: 401,
    message: 'This application must name the person acting through it (their forwarded token or its user header).',
  },
  CUSTODIAN_END_USER_UNTRUSTED: {
    status: 403,
    message: 'An end-user header is accepted only from the verified application it is configured for.',
  },
  // Purpose
  CUSTODIAN_PURPOSE_MISSING: { status: 403, message: 'The request must declare exactly one purpose.' },
  CUSTODIAN_PURPOSE_UNKNOWN: { status: 403, message: 'The declared purpose is not in the purpose catalogue.' },
  CUSTODIAN_PURPOSE_NOT_ALLOWED: {
    status: 403,
    message: 'The declared purpose is not allowed for this caller or on this route.',
  },
  CUSTODIAN_PURPOSE_REVIEW_EXPIRED: {
    status: 403,
    message: 'The declared purpose is past its review date and is disabled until the officer renews it.',
  },
  CUSTODIAN_ATTESTATION_LAPSED: {
    status: 403,
    message: 'A training or confidentiality attestation this purpose requires is missing or has lapsed.',
  },
  // Governance
  CUSTODIAN_SUBJECT_RESTRICTED: {
    status: 403,
    message: 'Processing this customer\'s data for the declared purpose is restricted (objection or restriction on file).',
  },
  CUSTODIAN_APPROVAL_REQUIRED: {
    status: 403,
    message: 'This operation is destructive: it needs an unused, unexpired approval for this exact method and path, given to you by another person.',
  },
  CUSTODIAN_BULK_LIMIT: {
    status: 429,
    message: 'This caller has reached the number of distinct customers the purpose allows in its time window.',
  },
  CUSTODIAN_PARTNER_CONTRACT: {
    status: 403,
    message: 'This partner has no valid contract in the partner registry for the declared purpose.',
  },
  CUSTODIAN_CONSENT_REQUIRED: {
    status: 403,
    message: 'The customer has not given a live consent covering this recipient and purpose.',
  },
  CUSTODIAN_STATEMENT_REFUSED: {
    status: 403,
    message: 'This SQL statement is not allowed for the declared purpose (a write, an unlisted table or function, or a masked column used in a condition).',
  },
  CUSTODIAN_ADMIN_FORBIDDEN: { status: 403, message: 'This admin action needs an officer, approver or admin role.' },
  CUSTODIAN_POLICY_REFUSED: {
    status: 422,
    message: 'The policy was not admitted (signature, policy tests or four-eyes); the running policy stays. The errors say why.',
  },
  // Audit
  CUSTODIAN_AUDIT_UNAVAILABLE: {
    status: 503,
    message: 'The access record could not be made durable, so no customer data is released. Retry later.',
  },
  // Internal
  CUSTODIAN_INTERNAL: { status: 500, message: 'The gateway failed to process the request; no data was released.' },
} as const satisfies Record<string, CodeSpec>;

export type ErrorCode = keyof typeof catalogue;

export const errorCodes: readonly ErrorCode[] = Object.freeze(Object.keys(catalogue) as ErrorCode[]);

export function statusOf(code: ErrorCode): number {
  return catalogue[code].status;
}

export function messageOf(code: ErrorCode): string {
  return catalogue[code].message;
}

/**
 * A refusal or failure with a stable code. `detail` is an optional safe hint for the client
 * (never request data); `cause` keeps the wrapped library error for the log only.
 */
export class CustodianError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: string | undefined;

  constructor(code: ErrorCode, options: { detail?: string; cause?: unknown } = {}) {
    super(messageOf(code), { cause: options.cause });
    this.name = 'CustodianError';
    this.code = code;
    this.status = statusOf(code);
    this.detail = options.detail;
  }
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; requestId: string };
}

/** The JSON body every refusal carries. */
export function errorBody(code: ErrorCode, requestId: string, detail?: string): ErrorBody {
  const message = detail ? `${messageOf(code)} ${detail}` : messageOf(code);
  return { error: { code, message, requestId } };
}
