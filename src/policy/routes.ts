import type { HttpMethod, RouteConfig } from '../config/types.js';
import type { PathIssue } from '../config/issues.js';

/**
 * Route table: compiled once at load, matched per request with plain segment comparisons.
 * Exactly one route may match any request; two patterns that could both match the same request
 * are a load-time error (default deny depends on there being no "which rule wins" question).
 */

type Segment = { kind: 'literal'; value: string } | { kind: 'param'; name: string };

export interface CompiledRoute {
  readonly config: RouteConfig;
  readonly segments: readonly Segment[];
  readonly methods: ReadonlySet<HttpMethod>;
}

export interface RouteMatch {
  readonly route: CompiledRoute;
  /** Decoded path parameters; a null-prototype object so `__proto__` is just a name. */
  readonly params: Readonly<Record<string, string>>;
}

export interface RouteTable {
  readonly routes: readonly CompiledRoute[];
  match(method: string, segments: readonly string[]): RouteMatch | undefined;
}

function compilePattern(path: string): Segment[] {
  return path
    .split('/')
    .filter((s) => s !== '')
    .map((s) => (s.startsWith(':') ? { kind: 'param', name: s.slice(1) } : { kind: 'literal', value: s }));
}

function overlaps(a: CompiledRoute, b: CompiledRoute): boolean {
  if (![...a.methods].some((m) => b.methods.has(m))) return false;
  if (a.segments.length !== b.segments.length) return false;
  return a.segments.every((sa, i) => {
    const sb = b.segments[i] as Segment;
    return sa.kind === 'param' || sb.kind === 'param' || sa.value === sb.value;
  });
}

/** Compile routes; issues point at `/routes/<index>`. */
export function compileRoutes(routes: readonly RouteConfig[]): { table: RouteTable; issues: PathIssue[] } {
  const issues: PathIssue[] = [];
  const compiled: CompiledRoute[] = [];
  const firstIndexById = new Map<string, number>();

  routes.forEach((config, index) => {
    const previous = firstIndexById.get(config.id);
    if (previous !== undefined) {
      issues.push({ path: ['routes', index, 'id'], message: `duplicate route id "${config.id}" (also routes[${previous}])` });
    } else {
      firstIndexById.set(config.id, index);
    }
    const segments = compilePattern(config.path);
    const names = segments.flatMap((s) => (s.kind === 'param' ? [s.name] : []));
    if (new Set(names).size !== names.length) {
      issues.push({ path: ['routes', index, 'path'], message: 'a path parameter name is used twice' });
    }
    // HEAD is answered by the GET route where the upstream supports it.
    const methods = new Set<HttpMethod>(config.methods);
    if (methods.has('GET')) methods.add('HEAD');
    const route: CompiledRoute = { config, segments, methods };
    compiled.forEach((other, otherIndex) => {
      if (overlaps(route, other)) {
        issues.push({
          path: ['routes', index, 'path'],
          message: `route "${config.id}" overlaps route "${other.config.id}" (routes[${otherIndex}]): a request could match both`,
        });
      }
    });
    compiled.push(route);
  });

  // Index by segment count: the per-request path only looks at routes of the right length.
  const byLength = new Map<number, CompiledRoute[]>();
  for (const r of compiled) {
    const list = byLength.get(r.segments.length) ?? [];
    list.push(r);
    byLength.set(r.segments.length, list);
  }

  const table: RouteTable = {
    routes: Object.freeze(compiled),
    match(method, segments) {
      const candidates = byLength.get(segments.length);
      if (!candidates) return undefined;
      for (const route of candidates) {
        if (!route.methods.has(method as HttpMethod)) continue;
        const params: Record<string, string> = Object.create(null);
        let ok = true;
        for (let i = 0; i < segments.length; i++) {
          const pattern = route.segments[i] as Segment;
          const actual = segments[i] as string;
          if (pattern.kind === 'literal') {
            if (pattern.value !== actual) {
              ok = false;
              break;
            }
          } else {
            params[pattern.name] = actual;
          }
        }
        if (ok) return { route, params: Object.freeze(params) };
      }
      return undefined;
    },
  };
  return { table, issues };
}
