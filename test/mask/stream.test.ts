import { Readable } from 'node:stream';
import t from 'tap';
import { readPrefix } from '../../src/mask/body.js';
import { FieldReport } from '../../src/mask/report.js';
import { ArrayMaskingStream } from '../../src/mask/stream-array.js';
import { planFor } from '../helpers/masking.js';

async function run(input: string[], maxElement = 1 << 20): Promise<{ out: string; error: unknown }> {
  const stream = new ArrayMaskingStream(planFor(), new FieldReport(), maxElement);
  let out = '';
  stream.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const result = new Promise<unknown>((ok) => {
    stream.on('end', () => ok(undefined));
    stream.on('error', (e) => ok(e));
  });
  Readable.from(input.map((s) => Buffer.from(s))).pipe(stream);
  const error = await result;
  return { out, error };
}

t.test('well-formed arrays stream through masked', async (t) => {
  t.same(await run(['[]']), { out: '[]', error: undefined });
  t.same(await run([' [ ', ' ] \n']), { out: '[]', error: undefined });
  const r = await run(['[{"mobile":"1381234', '5678"},"x",1,null,[{"id":2}]]']);
  t.equal(r.error, undefined);
  t.equal(r.out, '[{"mobile":"138****5678"},"x",1,null,[{"id":2}]]');
  const tricky = await run(['[{"id":1,"remarks":"a \\" ] , [ { \\\\"}', ']']);
  t.equal(tricky.out, '[{"id":1,"remarks":"a \\" ] , [ { \\\\"}]', 'brackets and escapes inside strings');
});

t.test('invalid or truncated bodies abort the stream; nothing unmasked was written', async (t) => {
  const cases: [string, string[], string][] = [
    ['truncated mid-element', ['[{"mobile":"13812345678"},{"mobile":"139'], 'truncated'],
    ['missing closing bracket', ['[{"id":1}'], 'truncated'],
    ['garbage element', ['[{"id":1},{oops}]'], 'invalid_json'],
    ['trailing garbage', ['[{"id":1}] extra'], 'invalid_json'],
    ['empty element', ['[{"id":1},,{"id":2}]'], 'invalid_json'],
    ['leading comma', ['[,{"id":1}]'], 'invalid_json'],
    ['not an array', ['{"id":1}'], 'invalid_json'],
    ['mismatched brackets', ['[{"id":[1}]]'], 'invalid_json'],
  ];
  for (const [name, input, reason] of cases) {
    const r = await run(input);
    t.match(r.error, { reason }, name);
    t.notMatch(r.out, /13812345678|139/, `${name}: no clear value written`);
  }
  const big = await run([`[{"remarks":"${'x'.repeat(5000)}"}]`], 1024);
  t.match(big.error, { reason: 'too_large' }, 'one element over the cap');
});

// Regression: a body whose last chunk took the first read past its limit had already ended (its
// 'end' emitted with nobody listening) when the second read began, which then waited forever:
// a JSON object over the streaming threshold, sent in one piece, hung its request.
t.test('a second readPrefix after the body ended on the first one resolves at once', async (t) => {
  const body = Buffer.from(JSON.stringify({ items: Array.from({ length: 200 }, (_, i) => ({ id: i })) }));
  const stream = Readable.from([body]);
  const first = await readPrefix(stream, 100);
  t.equal(first.ended, false, 'the first read stops at its limit');
  await new Promise((r) => setImmediate(r));
  t.ok(stream.readableEnded, 'the body has ended, its end event gone by');
  // Nothing more will ever arrive: the second read must settle before the loop turns again.
  const rest = await Promise.race([readPrefix(stream, 1 << 20), new Promise((r) => setImmediate(() => r('hung')))]);
  t.not(rest, 'hung', 'the second read does not hang');
  t.equal(Buffer.concat([...first.chunks, ...(rest as { chunks: Buffer[] }).chunks]).length, body.length, 'and the whole body was read');
});
