import type { SubjectSource } from '../config/types.js';

/** One step of a subject JSON path: a key, or every item of an array. */
export type Step = { readonly key: string } | { readonly each: true };

/** A response JSON path, split at its first `[*]`: where the list is, and the id inside each item. */
export interface SubjectPath {
  readonly steps: readonly Step[];
  /** Steps to the list (before the first `[*]`); undefined for a path that names one value. */
  readonly toList: readonly Step[] | undefined;
  /** Steps from a list item to its customer id (after the first `[*]`). */
  readonly inItem: readonly Step[];
  /** The path starts at a top-level array (`$[*]…`): it also applies to streamed elements. */
  readonly topLevelList: boolean;
}

/** `$.items[*].id` → [{key: items}, {each}, {key: id}] */
export function parseJsonPath(path: string): Step[] {
  const steps: Step[] = [];
  const re = /\.([^.[\]]+)|\[\*\]/g;
  for (const m of path.slice(1).matchAll(re)) steps.push(m[1] !== undefined ? { key: m[1] } : { each: true });
  return steps;
}

/** The response paths of a route, compiled once per policy. */
export function compileSubjectPaths(sources: readonly SubjectSource[]): readonly SubjectPath[] {
  return Object.freeze(
    sources.flatMap((s) => {
      if (!('jsonPath' in s)) return [];
      const steps = parseJsonPath(s.jsonPath);
      const eachAt = steps.findIndex((step) => 'each' in step);
      return [
        Object.freeze({
          steps,
          toList: eachAt === -1 ? undefined : steps.slice(0, eachAt),
          inItem: eachAt === -1 ? steps : steps.slice(eachAt + 1),
          topLevelList: eachAt === 0,
        }),
      ];
    }),
  );
}

/** The single value at steps with no `[*]` (own properties only); undefined when absent. */
export function valueAt(value: unknown, steps: readonly Step[]): unknown {
  let v = value;
  for (const step of steps) {
    if ('each' in step || v === null || typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, step.key)) return undefined;
    v = (v as Record<string, unknown>)[step.key];
  }
  return v;
}

/** Every value at steps, `[*]` included (own properties only). */
export function valuesAt(value: unknown, steps: readonly Step[], visit: (v: unknown) => void, from = 0): void {
  if (from === steps.length) {
    visit(value);
    return;
  }
  const step = steps[from] as Step;
  if ('each' in step) {
    if (Array.isArray(value)) for (const item of value) valuesAt(item, steps, visit, from + 1);
  } else if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.hasOwn(value, step.key)) {
    valuesAt((value as Record<string, unknown>)[step.key], steps, visit, from + 1);
  }
}
