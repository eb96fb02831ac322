/**
 * Replace every match of a global pattern by what `mask` makes of it (undefined: leave it), counting
 * each replacement under `kind`.
 * A loop over exec with static mask functions: String.replace with a callback made a closure per
 * call and cost more than the matching on short remarks.
 */
export function replaceCounted<K extends string>(text: string, pattern: RegExp, mask: (match: RegExpExecArray) => string | undefined, hits: Record<K, number>, kind: K): string {
  pattern.lastIndex = 0;
  let match = pattern.exec(text);
  if (match === null) return text;
  let out = '';
  let copied = 0;
  do {
    const masked = mask(match); // undefined: the shape matched, the check did not; left as it is
    if (masked !== undefined) {
      out += text.slice(copied, match.index) + masked;
      copied = match.index + match[0].length;
      hits[kind]++;
    }
    if (match[0].length === 0) pattern.lastIndex++;
    match = pattern.exec(text);
  } while (match !== null);
  return copied === 0 ? text : out + text.slice(copied);
}
