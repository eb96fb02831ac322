import { relative } from 'node:path';
import type { ClassificationEntry, ClientConfig, Config, PartnerConfig, PurposeConfig, RouteConfig } from '../config/types.js';
import { compileFieldPlan, type FieldPlan } from '../mask/plan.js';
import type { Action } from '../mask/operators.js';
import { databaseAsRoute } from './database.js';

/**
 * What a policy change changes for people: who may see what, in which form. Computed from the
 * two configurations through the same view compiler that serves requests, so a class-wide edit
 * (`C2: keep`) shows as the fields it reveals, whichever line of YAML made it.
 */
export interface ImpactLine {
  /** Reveals data in clear (or unscanned, or to a new party): needs a second officer under four-eyes. */
  readonly revealing: boolean;
  readonly kind: 'reveals' | 'widens' | 'narrows' | 'changes';
  readonly text: string;
}

export interface ImpactReport {
  readonly lines: readonly ImpactLine[];
  readonly revealing: boolean;
}

/** How much of a value a caller sees after an action; a route or purpose without access is -1. */
const EXPOSURE: Record<Action, number> = { dropped: 0, nulled: 0, generalised: 1, pseudonymised: 1, masked: 1, kept: 2 };
const NO_ACCESS = 'no access';

type Seen = Action | typeof NO_ACCESS;

function exposure(seen: Seen): number {
  return seen === NO_ACCESS ? -1 : EXPOSURE[seen];
}

function shown(seen: Seen): string {
  return seen === 'kept' ? 'clear' : seen;
}

function planOf(config: Config, route: RouteConfig | undefined, purpose: string): FieldPlan | undefined {
  if (!route?.purposes.includes(purpose)) return undefined;
  const keys = { active: config.masking.activePseudonymKey, secrets: config.masking.pseudonymKeys };
  return compileFieldPlan(route, purpose, config.classification, keys);
}

/** Every dictionary name and path of either version, with its class (the newer one's when both). */
function dictionaryOf(before: Config, after: Config): Map<string, ClassificationEntry> {
  const all = new Map<string, ClassificationEntry>();
  for (const c of [before, after]) {
    for (const [name, entry] of c.classification.fields) all.set(name, entry);
    for (const [path, entry] of c.classification.paths) all.set(path, entry);
  }
  return all;
}

function seenUnder(plan: FieldPlan | undefined, name: string): Seen {
  if (!plan) return NO_ACCESS;
  return (plan.byPath.get(name) ?? plan.byName.get(name) ?? plan.unknown).operator.action;
}

/** Per route and purpose: the fields whose form changed, grouped by their before → after. */
function viewLines(before: Config, after: Config, routesBefore: readonly RouteConfig[], routesAfter: readonly RouteConfig[]): ImpactLine[] {
  const lines: ImpactLine[] = [];
  const dictionary = dictionaryOf(before, after);
  for (const route of routesAfter) {
    const old = routesBefore.find((r) => r.id === route.id);
    for (const purpose of route.purposes) {
      const planBefore = planOf(before, old, purpose);
      const planAfter = planOf(after, route, purpose);
      const groups = new Map<string, { from: Seen; to: Seen; names: string[]; classes: Set<string> }>();
      for (const [name, entry] of dictionary) {
        const from = seenUnder(planBefore, name);
        const to = seenUnder(planAfter, name);
        if (from === to || exposure(to) <= 0 && exposure(from) <= 0) continue;
        // One line per class and change: "idNumber, mobile (C2) masked → clear" reads at a glance.
        const key = `${from}>${to}>${entry.class}`;
        const group = groups.get(key) ?? { from, to, names: [], classes: new Set<string>() };
        group.names.push(name);
        group.classes.add(entry.class);
        groups.set(key, group);
      }
      for (const { from, to, names, classes } of groups.values()) {
        const where = `${route.id === '(database)' ? 'database' : `route ${route.id}`} · purpose ${purpose}`;
        const what = `${names.sort().join(', ')} (${[...classes].sort().join(', ')})`;
        const text = `${where}: ${what} ${shown(from)} → ${shown(to)}`;
        if (exposure(to) > exposure(from)) {
          // Clear personal data, or secrets in any form, to someone who did not see them so.
          const revealing = (to === 'kept' && (classes.has('C2') || classes.has('C3'))) || classes.has('C3');
          lines.push({ revealing, kind: revealing ? 'reveals' : 'widens', text });
        } else if (exposure(to) < exposure(from)) {
          lines.push({ revealing: false, kind: 'narrows', text });
        } else {
          lines.push({ revealing: false, kind: 'changes', text });
        }
      }
    }
  }
  return lines;
}

function added<T>(now: readonly T[], then: readonly T[]): T[] {
  return now.filter((x) => !then.includes(x));
}

function routeLines(before: Config, after: Config): ImpactLine[] {
  const lines: ImpactLine[] = [];
  for (const old of before.routes) {
    if (!after.routes.some((r) => r.id === old.id)) lines.push({ revealing: false, kind: 'narrows', text: `route ${old.id} removed` });
  }
  for (const route of after.routes) {
    const old = before.routes.find((r) => r.id === route.id);
    const at = `route ${route.id}`;
    if (!old) {
      lines.push({ revealing: false, kind: 'widens', text: `${at} added: ${route.methods.join(',')} ${route.path} for ${route.purposes.join(', ') || 'no purpose'}` });
      continue;
    }
    const purposes = added(route.purposes, old.purposes);
    if (purposes.length > 0) lines.push({ revealing: false, kind: 'widens', text: `${at}: purposes added: ${purposes.join(', ')}` });
    const removed = added(old.purposes, route.purposes);
    if (removed.length > 0) lines.push({ revealing: false, kind: 'narrows', text: `${at}: purposes removed: ${removed.join(', ')}` });
    const methods = added(route.methods, old.methods);
    if (methods.length > 0) lines.push({ revealing: false, kind: 'widens', text: `${at}: methods added: ${methods.join(', ')}` });
    if (route.path !== old.path) lines.push({ revealing: false, kind: 'changes', text: `${at}: path ${old.path} → ${route.path}` });
    const passthrough = added(route.passthrough, old.passthrough);
    if (passthrough.length > 0) lines.push({ revealing: true, kind: 'reveals', text: `${at}: bodies released unmasked (passthrough) for ${passthrough.join(', ')}` });
    if (route.observe && !old.observe) lines.push({ revealing: true, kind: 'reveals', text: `${at}: observe mode — responses released unmasked` });
    if (route.unknownFields === 'keep' && old.unknownFields !== 'keep') {
      lines.push({ revealing: true, kind: 'reveals', text: `${at}: fields the dictionary does not name are released instead of dropped` });
    }
    if (!route.detectors && old.detectors) lines.push({ revealing: true, kind: 'reveals', text: `${at}: free text no longer scanned for identifiers (detectors off)` });
    const unscanned = added(old.detectorKinds, route.detectorKinds);
    if (route.detectors && old.detectors && unscanned.length > 0) {
      lines.push({ revealing: true, kind: 'reveals', text: `${at}: free text no longer scanned for ${unscanned.join(', ')}` });
    }
    if (!route.destructive && old.destructive) lines.push({ revealing: false, kind: 'widens', text: `${at}: no longer needs a second person's approval (destructive off)` });
    for (const header of added(route.responseHeaders.release, old.responseHeaders.release)) {
      lines.push({ revealing: false, kind: 'widens', text: `${at}: upstream response header ${header} released` });
    }
  }
  return lines;
}

/** Purposes that release personal data (C2/C3) in clear on some route or the database. */
function clearPurposes(config: Config): Set<string> {
  const out = new Set<string>();
  const routes = config.database ? [...config.routes, databaseAsRoute(config.database)] : config.routes;
  for (const route of routes) {
    for (const purpose of route.purposes) {
      const plan = planOf(config, route, purpose);
      if (!plan) continue;
      for (const rule of [...plan.byName.values(), ...plan.byPath.values()]) {
        if ((rule.dataClass === 'C2' || rule.dataClass === 'C3') && rule.operator.action === 'kept') out.add(purpose);
      }
    }
  }
  return out;
}

function purposeLines(before: Config, after: Config): ImpactLine[] {
  const lines: ImpactLine[] = [];
  const clear = clearPurposes(after);
  const byId = new Map(before.purposes.map((p) => [p.id, p]));
  for (const old of before.purposes) {
    if (!after.purposes.some((p) => p.id === old.id)) lines.push({ revealing: false, kind: 'narrows', text: `purpose ${old.id} removed` });
  }
  for (const purpose of after.purposes) {
    const old = byId.get(purpose.id);
    // Letting more people use a purpose that sees personal data in clear reveals it to them.
    const widen = (text: string) => lines.push({ revealing: clear.has(purpose.id), kind: clear.has(purpose.id) ? 'reveals' : 'widens', text });
    const at = `purpose ${purpose.id}`;
    if (!old) {
      widen(`${at} added (${purpose.lawfulBasis}): roles ${purpose.roles.join(', ')}; callers ${purpose.callerKinds.join(', ')}`);
      continue;
    }
    const roles = added(purpose.roles, old.roles);
    if (roles.length > 0) widen(`${at}: roles added: ${roles.join(', ')}`);
    const kinds = added(purpose.callerKinds, old.callerKinds);
    if (kinds.length > 0) widen(`${at}: caller kinds added: ${kinds.join(', ')}`);
    const dropped = added(old.requiredAttestations, purpose.requiredAttestations);
    if (dropped.length > 0) widen(`${at}: no longer requires ${dropped.join(', ')}`);
    if (purpose.lawfulBasis !== old.lawfulBasis) lines.push({ revealing: false, kind: 'changes', text: `${at}: lawful basis ${old.lawfulBasis} → ${purpose.lawfulBasis}` });
    if (purpose.reviewUntil > old.reviewUntil) lines.push({ revealing: false, kind: 'widens', text: `${at}: review extended ${old.reviewUntil} → ${purpose.reviewUntil}` });
    lines.push(...bulkLines(at, old, purpose));
  }
  return lines;
}

function bulkLines(at: string, old: PurposeConfig, now: PurposeConfig): ImpactLine[] {
  const [a, b] = [old.bulkLimit, now.bulkLimit];
  if (a && !b) return [{ revealing: false, kind: 'widens', text: `${at}: bulk limit removed (was ${a.refuseAt} customers per ${a.windowSeconds} s)` }];
  if (!a && b) return [{ revealing: false, kind: 'narrows', text: `${at}: bulk limit ${b.refuseAt} customers per ${b.windowSeconds} s` }];
  if (a && b && (b.refuseAt > a.refuseAt || b.windowSeconds < a.windowSeconds || (b.alertAt ?? b.refuseAt) > (a.alertAt ?? a.refuseAt))) {
    return [{ revealing: false, kind: 'widens', text: `${at}: bulk limit raised: ${a.refuseAt}/${a.windowSeconds} s → ${b.refuseAt}/${b.windowSeconds} s (alert ${a.alertAt ?? '—'} → ${b.alertAt ?? '—'})` }];
  }
  return [];
}

function partnerLines(before: Config, after: Config): ImpactLine[] {
  const lines: ImpactLine[] = [];
  for (const [id] of before.partners) {
    if (!after.partners.has(id)) lines.push({ revealing: false, kind: 'narrows', text: `partner ${id} removed` });
  }
  for (const [id, partner] of after.partners) {
    const old: PartnerConfig | undefined = before.partners.get(id);
    const at = `partner ${id}`;
    if (!old) {
      lines.push({ revealing: true, kind: 'reveals', text: `${at} added: ${partner.fields.join(', ')} for ${partner.purposes.join(', ')} until ${new Date(partner.validUntil * 1000).toISOString().slice(0, 10)}` });
      continue;
    }
    const fields = added(partner.fields, old.fields);
    if (fields.length > 0) lines.push({ revealing: true, kind: 'reveals', text: `${at}: fields added: ${fields.join(', ')}` });
    const purposes = added(partner.purposes, old.purposes);
    if (purposes.length > 0) lines.push({ revealing: true, kind: 'reveals', text: `${at}: purposes added: ${purposes.join(', ')}` });
    if (partner.validUntil > old.validUntil) lines.push({ revealing: false, kind: 'widens', text: `${at}: provision extended to ${new Date(partner.validUntil * 1000).toISOString().slice(0, 10)}` });
  }
  return lines;
}

function callerLines(before: Config, after: Config): ImpactLine[] {
  const lines: ImpactLine[] = [];
  for (const issuer of after.auth.issuers) {
    const old = before.auth.issuers.find((i) => i.id === issuer.id);
    if (!old) lines.push({ revealing: false, kind: 'widens', text: `token issuer ${issuer.id} (${issuer.issuer}) trusted` });
    else if (JSON.stringify(old) !== JSON.stringify(issuer)) lines.push({ revealing: false, kind: 'changes', text: `token issuer ${issuer.id}: keys, audience or claim mapping changed` });
  }
  const mapped = (c: Config) => c.auth.clientCertificates.map((m) => JSON.stringify(m));
  const newMappings = added(mapped(after), mapped(before));
  for (const m of newMappings) {
    const { match, principal } = JSON.parse(m) as { match: { cn?: string; uri?: string }; principal: { subject: string; kind: string; roles: string[] } };
    lines.push({ revealing: false, kind: 'widens', text: `client certificate ${match.cn ?? match.uri} → ${principal.kind} ${principal.subject} with roles ${principal.roles.join(', ')}` });
  }
  return lines;
}

/** What an application may do and whom it may speak for: routes, purposes, vouched roles. */
function clientLines(before: Config, after: Config): ImpactLine[] {
  const lines: ImpactLine[] = [];
  const clear = clearPurposes(after);
  // Roles an application vouches for by header reach every purpose those roles hold.
  const opensClear = (roles: readonly string[]) => after.purposes.some((p) => clear.has(p.id) && p.roles.some((r) => roles.includes(r)));
  const served = (c: ClientConfig) => [
    ...[...c.routes].flatMap(([route, purposes]) => purposes.map((p) => `${route}: ${p}`)),
    ...(c.database ?? []).map((p) => `database front end: ${p}`),
  ];
  for (const old of before.clients) {
    if (!after.clients.some((c) => c.id === old.id)) lines.push({ revealing: false, kind: 'narrows', text: `application ${old.id} removed` });
  }
  for (const client of after.clients) {
    const old = before.clients.find((c) => c.id === client.id);
    const at = `application ${client.id}`;
    const vouched = client.endUser?.header?.roles ?? [];
    const newRoles = added(vouched, old?.endUser?.header?.roles ?? []);
    if (newRoles.length > 0) {
      const revealing = opensClear(newRoles);
      lines.push({ revealing, kind: revealing ? 'reveals' : 'widens', text: `${at}: names its users by header (${client.endUser?.header?.name}) with roles ${newRoles.join(', ')}` });
    }
    const routes = added(served(client), old ? served(old) : []);
    if (!old) lines.push({ revealing: false, kind: 'widens', text: `${at} trusted (${'certificate' in client.identity ? 'client certificate' : 'client-credentials token'}): ${routes.join('; ')}` });
    else if (routes.length > 0) lines.push({ revealing: false, kind: 'widens', text: `${at}: serves ${routes.join('; ')}` });
    if (old && JSON.stringify(old.identity) !== JSON.stringify(client.identity)) lines.push({ revealing: false, kind: 'changes', text: `${at}: identity changed` });
    if (old?.endUser?.required && client.endUser?.required === false) lines.push({ revealing: false, kind: 'widens', text: `${at}: may call without naming a user` });
  }
  return lines;
}

function testLines(before: Config, after: Config): ImpactLine[] {
  // As written in the file (relative to it), so a copy of the policy elsewhere compares equal.
  const named = (c: Config) => c.policyTests.map((f) => relative(c.baseDir, f));
  const removed = added(named(before), named(after));
  return removed.map((file) => ({ revealing: true, kind: 'reveals' as const, text: `policy tests no longer run: ${file}` }));
}

/** The impact of replacing `before` by `after`, most important first (revealing lines lead). */
export function policyImpact(before: Config, after: Config): ImpactReport {
  const routesBefore = before.database ? [...before.routes, databaseAsRoute(before.database)] : before.routes;
  const routesAfter = after.database ? [...after.routes, databaseAsRoute(after.database)] : after.routes;
  const lines = [
    ...viewLines(before, after, routesBefore, routesAfter),
    ...routeLines(before, after),
    ...purposeLines(before, after),
    ...partnerLines(before, after),
    ...callerLines(before, after),
    ...clientLines(before, after),
    ...testLines(before, after),
  ];
  const order = { reveals: 0, widens: 1, changes: 2, narrows: 3 };
  lines.sort((a, b) => order[a.kind] - order[b.kind]);
  return { lines, revealing: lines.some((l) => l.revealing) };
}

/** The report as text lines, as `policy diff`, check and reload print it. */
export function formatImpact(report: ImpactReport): string[] {
  if (report.lines.length === 0) return ['no change to what anyone sees'];
  const label = { reveals: 'REVEALS', widens: 'WIDENS ', changes: 'CHANGES', narrows: 'NARROWS' };
  return report.lines.map((l) => `${label[l.kind]}  ${l.text}`);
}
