import { Readable } from 'node:stream';
import t from 'tap';
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
