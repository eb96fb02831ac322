import type { DetectorKind } from '../mask/detectors.js';
import type { PathIssue } from '../config/issues.js';
import type { Config } from '../config/types.js';
import { endOfDayEpoch } from '../config/build-auth.js';
import { didYouMean } from '../config/suggest.js';

/**
 * Rules that load fine but would silently do nothing — the typo that disables a rule without
 * anyone noticing. `custodian check` reports them; `serve` logs them.
 */
export function lintPolicy(config: Config, nowSec: number = Date.now() / 1000): PathIssue[] {
  const warnings: PathIssue[] = [];
  const usedPurposes = new Set(config.routes.flatMap((r) => r.purposes));
  const livePurposes = new Set<string>();

  config.purposes.forEach((p, index) => {
    const path = ['purposes', index];
    const expired = nowSec > endOfDayEpoch(p.reviewUntil);
    if (expired) warnings.push({ path: [...path, 'reviewUntil'], message: `purpose "${p.id}" review expired on ${p.reviewUntil}: it is disabled` });
    if (p.roles.length === 0 || p.callerKinds.length === 0) {
      warnings.push({ path, message: `purpose "${p.id}" names no ${p.roles.length === 0 ? 'roles' : 'caller kinds'}: nobody can use it` });
    } else if (!expired) {
      livePurposes.add(p.id);
    }
    if (!usedPurposes.has(p.id)) warnings.push({ path, message: `purpose "${p.id}" is not allowed on any route` });
  });

  config.routes.forEach((r, index) => {
    if (r.purposes.length === 0) {
      warnings.push({ path: ['routes', index], message: `route "${r.id}" allows no purpose: every request to it is refused` });
    } else if (!r.purposes.some((p) => livePurposes.has(p))) {
      warnings.push({ path: ['routes', index, 'purposes'], message: `route "${r.id}": no purpose it allows is usable` });
    }
  });

  const dictionary = config.classification;
  const hasC2 = [...dictionary.fields.values(), ...dictionary.paths.values()].some((e) => e.class === 'C2');
  const keepsFreeText = [...dictionary.fields.values()].some((e) => (e.class === 'C1' || e.class === 'public') && e.operator === 'keep');
  config.routes.forEach((r, index) => {
    for (const [purpose, view] of Object.entries(r.views)) {
      for (const name of Object.keys(view.fields)) {
        if (!dictionary.fields.has(name) && !dictionary.paths.has(name)) {
          warnings.push({ path: ['routes', index, 'views', purpose, 'fields', name], message: `view names "${name}", which the dictionary does not classify: the rule does nothing${didYouMean(name, [...dictionary.fields.keys(), ...dictionary.paths.keys()])}` });
        }
      }
    }
    if (!r.detectors && (r.unknownFields === 'keep' || keepsFreeText)) {
      warnings.push({ path: ['routes', index, 'detectors'], message: `route "${r.id}" turns detectors off but releases free text` });
    }
    const unscanned = ['residentId', 'mobile', 'bankCard'].filter((k) => !r.detectorKinds.includes(k as DetectorKind));
    if (r.detectors && unscanned.length > 0 && (r.unknownFields === 'keep' || keepsFreeText)) {
      warnings.push({ path: ['routes', index, 'detectors'], message: `route "${r.id}" releases free text without scanning it for ${unscanned.join(', ')}` });
    }
    if (r.unknownFields === 'keep' && hasC2) {
      warnings.push({ path: ['routes', index, 'unknownFields'], message: `route "${r.id}" keeps unknown fields while the dictionary has C2 data: a new field would be released unclassified` });
    }
  });

  // Partner paperwork about to lapse: after that day the partner is refused.
  const soon = nowSec + 30 * 86400;
  const day = (epoch: number) => new Date(epoch * 1000).toISOString().slice(0, 10);
  [...config.partners.values()].forEach((p, index) => {
    const lapses: [string, number | undefined, (string | number)[]][] = [
      ['contract', p.validUntil, ['validUntil']],
      ['security review', p.securityReview.expiresAt, ['securityReview']],
      ['NDA', p.ndaExpiresAt, ['nda']],
    ];
    for (const [what, at, path] of lapses) {
      if (at === undefined) continue;
      if (nowSec > at) warnings.push({ path: ['partners', index, ...path], message: `partner "${p.id}": ${what} lapsed on ${day(at)}: the partner is refused` });
      else if (soon > at) warnings.push({ path: ['partners', index, ...path], message: `partner "${p.id}": ${what} lapses on ${day(at)}, within 30 days: the partner will be refused` });
    }
  });

  if (config.auth.issuers.length === 0 && config.auth.clientCertificates.length === 0) {
    warnings.push({ path: ['auth'], message: 'no token issuer or client-certificate mapping: no caller can authenticate' });
  }
  if (config.auth.clientCertificates.length > 0 && config.tls.clientCertificate === 'none') {
    warnings.push({ path: ['auth', 'clientCertificates'], message: 'client-certificate mappings are unused while tls.clientCertificate is none' });
  }
  return warnings;
}
