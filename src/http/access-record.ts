import { randomUUID } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import type { AuditRecord } from '../audit/record.js';
import { maskedTarget } from './request-state.js';

/** The request facts every record of this request shares (all masked, no token, no value). */
function requestFacts(request: FastifyRequest): Omit<AuditRecord, 'v' | 'type' | 'id' | 'time'> {
  const { policy, match, principal, purpose, declaredPurpose, upstream, subjects } = request.custodian.decision ?? {};
  const { path, query } = maskedTarget(request.custodian);
  const socket = request.raw.socket as TLSSocket;
  const protocol = typeof socket.getProtocol === 'function' ? (socket.getProtocol() ?? undefined) : undefined;
  return {
    requestId: request.id,
    caller: principal
      ? {
          sub: principal.subject,
          kind: principal.kind,
          org: principal.organisation,
          roles: principal.roles,
          app: principal.application?.id,
          endUser: principal.application?.endUser,
        }
      : undefined,
    // A refusal still records what the caller declared ("who tried to read X for what").
    purpose: purpose?.config.id ?? declaredPurpose,
    route: match?.route.config.id,
    method: request.method,
    path,
    query,
    upstream: upstream?.name,
    subjects: subjects && policy ? subjects.toRecord(policy.config.masking) : undefined,
    client: { ip: request.ip },
    tls: { version: protocol, certFingerprint: principal?.certificateThumbprint },
  };
}

/** One access record of this request: its shared facts plus what this record states. */
export function accessRecord(type: AuditRecord['type'], request: FastifyRequest, extra: Partial<AuditRecord>): AuditRecord {
  return { v: 1, type, id: randomUUID(), time: new Date().toISOString(), ...requestFacts(request), ...extra };
}
