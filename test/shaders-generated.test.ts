// The kernels composed from shaders/src and shaders/lib (scripts/wgsl-compose.mjs) are written to shaders/NAME.wgsl
// by the build (and by vitest's global setup): build outputs, not tracked, which Node, the browser and reflection read.
// These tests fail when a kernel there differs from what its sources compose to (fix: npm run build:shaders), check
// the composer's directives and errors, and check that every line of a generated kernel traces back to the source
// line it came from (what compile errors report).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript build script, no type declarations
import { compose, composeAll, ComposeError, GENERATED_MARK, SHADERS_DIR } from '../scripts/wgsl-compose.mjs';
import { KERNELS } from '../src/gpu/registry.js';
import { loadShaders, shaderUrl, sourceLine } from '../src/gpu/shaders.js';
import { context } from '../src/index.js';
import { gpu } from './setup.js';

const escapeRegExp = (s: string): string => s.replace(/[.*+?^$()|[\]\\{}]/g, '\\$&');
const read = (rel: string): string => readFileSync(join(SHADERS_DIR, rel), 'utf8');
const generated = composeAll() as Map<string, string>;

describe('generated kernels', () => {
  it('every shaders/NAME.wgsl with a source is exactly what its source composes to (else: npm run build:shaders)', () => {
    expect(generated.size).toBeGreaterThan(0);
    const stale = [...generated].filter(([file, text]) => {
      try {
        return read(file) !== text;
      } catch {
        return true;
      }
    });
    expect(stale.map(([file]) => `shaders/${file} is stale: run npm run build:shaders`)).toEqual([]);
  });

  it('every generated file has a source, and every registered kernel has a file', () => {
    const files = readdirSync(SHADERS_DIR).filter((f) => f.endsWith('.wgsl'));
    const orphans = files.filter((f) => read(f).startsWith(GENERATED_MARK) && !generated.has(f));
    expect(orphans).toEqual([]);
    expect(KERNELS.filter((k) => !files.includes(`${k}.wgsl`))).toEqual([]);
    // A kernel with a source must not also be written by hand (the build refuses to overwrite one).
    for (const f of generated.keys()) expect(read(f).startsWith(GENERATED_MARK)).toBe(true);
  });

  it('every line of a generated kernel maps back to the line it was written as', () => {
    for (const [file, text] of generated) {
      const lines = text.replace(/\n$/, '').split('\n');
      for (let n = 2; n <= lines.length; n++) {
        const out = lines[n - 1]!;
        if (out.startsWith('// @source ')) continue;
        const from = sourceLine(text, n);
        expect(from, `${file}:${n}`).toBeDefined();
        const [, rel, at] = /^shaders\/(.+):(\d+)$/.exec(from!)!;
        const src = read(rel!).split('\n')[Number(at) - 1]!;
        // A //#bindings line gives one declaration per entry: the output declares one of its names.
        const list = /^\s*\/\/#bindings\s+(.*)$/.exec(src);
        if (list) {
          const decl = /^@group\(0\) @binding\(\d+\) var<(?:uniform|storage, read|storage, read_write)> (\w+): [^;]+;$/.exec(out);
          expect(decl, `${file}:${n} from ${from}`).not.toBeNull();
          expect(list[1]!.split(',').map((e) => /(\w+)\s*:/.exec(e)?.[1]), `${file}:${n} from ${from}`).toContain(decl![1]);
          continue;
        }
        // A block's line matches its expansion with each {{PARAM}} standing for any text.
        const pattern = new RegExp(`^${src.split(/\{\{\w+\}\}/).map(escapeRegExp).join('.*')}$`);
        expect(out, `${file}:${n} from ${from}`).toMatch(pattern);
      }
    }
  });
});

describe('the composer', () => {
  const files = (map: Record<string, string>) => (rel: string): string => {
    if (!(rel in map)) throw new Error('no such file');
    return map[rel]!;
  };
  const body = (text: string): string[] => text.split('\n').filter((l) => !l.startsWith('//'));

  it('pastes a piece once, expands blocks with their arguments, copies the rest', () => {
    const text = compose('k', files({
      'src/k.wgsl': '//#include "lib/a.wgsl"\n//#include "lib/a.wgsl"\n//#block twice(N, E)\nfn {{N}}() { let v = {{E}}; }\n//#end\n//#expand twice(f, max(1, 2))\n//#expand twice(g, )\nconst K = 1;\n',
      'lib/a.wgsl': 'fn a() {}\n',
    }));
    expect(text.startsWith(GENERATED_MARK)).toBe(true);
    expect(body(text)).toEqual(['fn a() {}', 'fn f() { let v = max(1, 2); }', 'fn g() { let v = ; }', 'const K = 1;', '']);
    expect(text).toContain('// @source shaders/lib/a.wgsl:1\n');
    expect(text).toContain('// @source shaders/src/k.wgsl:4 (twice, expanded at shaders/src/k.wgsl:6)\nfn f()');
  });

  it('expands a hook: a block named by an argument, inside the block that receives it', () => {
    const text = compose('k', files({
      'src/k.wgsl': '//#block load()\nlet v = x[i];\n//#end\n//#block body(HOOK, OUT)\nvar s = 0.0;\n//#expand {{HOOK}}()\n{{OUT}} = s + v;\n//#end\n//#expand body(load, y[i])\n',
    }));
    expect(body(text)).toEqual(['var s = 0.0;', 'let v = x[i];', 'y[i] = s + v;', '']);
    const fail = (src: string) => () => compose('k', files({ 'src/k.wgsl': src }));
    expect(fail('//#block b(H)\n//#expand {{H}}()\n//#end\n//#expand b(nope)')).toThrow(/k\.wgsl:2: no block nope/);
    expect(fail('//#block b(H)\n//#expand b(H)\n//#end\n//#expand b(x)')).toThrow(/expands itself/);
  });

  it('declares //#bindings entries in order, numbering them through the kernel', () => {
    const text: string = compose('k', files({
      'src/k.wgsl': [
        'struct P { n: u32 };',
        '//#bindings p: uniform P, x: read array<f32>,y:read_write   array<vec4f>',
        '// Wrapped: the next line goes on numbering.',
        '//#bindings t: read array<vec4<f32>, 4>, m: read_write array<mat2x2<f32>>',
        '//#include "lib/a.wgsl"',
        '@group(0) @binding(7) var<storage, read> hand: array<u32>;',
        '//#bindings after: read array<u32>, @12 jumped: read array<f32>, last: read_write array<f32>',
        'fn f() {}',
      ].join('\n'),
      'lib/a.wgsl': '//#bindings a: read array<f32>\n',
    }));
    expect(body(text)).toEqual([
      'struct P { n: u32 };',
      '@group(0) @binding(0) var<uniform> p: P;',
      '@group(0) @binding(1) var<storage, read> x: array<f32>;',
      '@group(0) @binding(2) var<storage, read_write> y: array<vec4f>;',
      '@group(0) @binding(3) var<storage, read> t: array<vec4<f32>, 4>;',
      '@group(0) @binding(4) var<storage, read_write> m: array<mat2x2<f32>>;',
      '@group(0) @binding(5) var<storage, read> a: array<f32>;',
      '@group(0) @binding(7) var<storage, read> hand: array<u32>;',
      '@group(0) @binding(8) var<storage, read> after: array<u32>;',
      '@group(0) @binding(12) var<storage, read> jumped: array<f32>;',
      '@group(0) @binding(13) var<storage, read_write> last: array<f32>;',
      'fn f() {}',
      '',
    ]);
    // Every declaration traces back to its //#bindings line (several come from one line).
    const lines = text.split('\n');
    const at = (decl: string): string | undefined => sourceLine(text, lines.findIndex((l) => l.includes(decl)) + 1);
    expect(at(' p: P;')).toBe('shaders/src/k.wgsl:2');
    expect(at(' y: array<vec4f>;')).toBe('shaders/src/k.wgsl:2');
    expect(at(' m: array<mat2x2<f32>>;')).toBe('shaders/src/k.wgsl:4');
    expect(at(' a: array<f32>;')).toBe('shaders/lib/a.wgsl:1');
    expect(at(' hand: array<u32>;')).toBe('shaders/src/k.wgsl:6');
    expect(at(' jumped: array<f32>;')).toBe('shaders/src/k.wgsl:7');
    expect(at('fn f() {}')).toBe('shaders/src/k.wgsl:8');
  });

  it('names file and line for a malformed //#bindings entry', () => {
    const fail = (src: string) => () => compose('k', files({ 'src/k.wgsl': src }));
    expect(fail('\n//#bindings p: uniform P, w: write array<f32>')).toThrow(/src\/k\.wgsl:2: binding 'w': unknown access mode 'write' \(uniform, read, read_write\)/);
    expect(fail('//#bindings p: uniform P, w: read')).toThrow(/k\.wgsl:1: binding 'w' has no type \(expected w: read TYPE\)/);
    expect(fail('//#bindings w:')).toThrow(/k\.wgsl:1: binding 'w' has no access mode and type/);
    expect(fail('//#bindings array<f32>')).toThrow(/k\.wgsl:1: \/\/#bindings entry 'array<f32>' is not NAME: ACCESS TYPE/);
    expect(fail('//#bindings a: read array<f32>\nx\n//#bindings b: read array<f32>, a: read_write array<f32>')).toThrow(/k\.wgsl:3: binding 'a' is already declared at shaders\/src\/k\.wgsl:1/);
    expect(fail('@group(0) @binding(1) var<storage, read> h: array<f32>;\n//#bindings @1 a: read array<f32>')).toThrow(/k\.wgsl:2: binding 'a': @1 goes back \(the next binding number is 2/);
    expect(fail('//#bindings a: read array<f32>\n@group(0) @binding(0) var<storage, read> h: array<f32>;')).toThrow(/k\.wgsl:2: @group\(0\) @binding\(0\) is already declared at shaders\/src\/k\.wgsl:1/);
    expect(fail('//#bindings a: read array<f32>, , b: read array<f32>')).toThrow(/k\.wgsl:1: empty \/\/#bindings entry/);
    expect(fail('//#bindings a: read array<f32>,')).toThrow(/k\.wgsl:1: empty \/\/#bindings entry/);
    expect(fail('//#bindings a: read array<f32')).toThrow(/k\.wgsl:1: unbalanced brackets/);
    expect(fail('//#bindings a: read array<f32> // note')).toThrow(/k\.wgsl:1: binding 'a': type 'array<f32> \/\/ note' holds \/\/ or ;/);
    expect(fail('//#bindings')).toThrow(/k\.wgsl:1: expected \/\/#bindings NAME: ACCESS TYPE/);
    expect(fail('//#block b()\n//#bindings a: read array<f32>\n//#end')).toThrow(/k\.wgsl:2: \/\/#bindings inside block b/);
  });

  it('names file and line in every error', () => {
    const fail = (src: string, more: Record<string, string> = {}) => () => compose('k', files({ 'src/k.wgsl': src, ...more }));
    expect(fail('//#expand nope()')).toThrow(/src\/k\.wgsl:1: no block nope/);
    expect(fail('//#block b(A)\nx\n//#end\n//#expand b(1, 2)')).toThrow(/k\.wgsl:4: block b\(A\) takes 1 arguments, got 2/);
    expect(fail('//#block b(A)\n{{B}}\n//#end\n//#expand b(1)')).toThrow(/k\.wgsl:2: \{\{B\}\} is not a parameter of block b/);
    expect(fail('//#block b(A)\nx')).toThrow(/k\.wgsl:1: block b has no \/\/#end/);
    expect(fail('//#block b()\n//#include "x"\n//#end')).toThrow(/k\.wgsl:2: \/\/#include inside block b/);
    expect(fail('//#frobnicate')).toThrow(/k\.wgsl:1: unknown directive \/\/#frobnicate/);
    expect(fail('//#end')).toThrow(/k\.wgsl:1: \/\/#end without \/\/#block/);
    expect(fail('//#include "lib/missing.wgsl"')).toThrow(/cannot read shaders\/lib\/missing\.wgsl/);
    // A piece is pasted once per kernel, so a piece that includes itself (or a cycle) is not an error.
    expect(body(compose('k', files({ 'src/k.wgsl': '//#include "lib/a.wgsl"', 'lib/a.wgsl': '//#include "lib/a.wgsl"\nfn a() {}' })))).toContain('fn a() {}');
    expect(fail('x = {{A}};')).toThrow(/\{\{A\}\} outside a block/);
    expect(fail('//#expand')).toThrow(ComposeError);
  });
});

describe('compile errors in a generated kernel', () => {
  it('name the generated file and line and the source line', async () => {
    await gpu();
    const name = 'pool';
    const text = generated.get(`${name}.wgsl`)!;
    const lines = text.split('\n');
    const n = lines.findIndex((l) => /^\s*let rh = covering\(ih, p\.OH\);/.test(l)) + 1; // inside the gather block
    expect(n).toBeGreaterThan(0);
    lines[n - 1] = '  let rh = covering(ih, undefined_thing);';
    const broken = lines.join('\n');
    const err = await loadShaders(context().device, async (url) =>
      url.href === shaderUrl(name).href ? broken : context().platform.readText(url),
    ).then(() => null, (e: unknown) => e as Error);
    const from = sourceLine(text, n)!;
    expect(from).toMatch(/^shaders\/src\/pool\.wgsl:\d+$/);
    expect(read(from.slice('shaders/'.length).split(':')[0]!).split('\n')[Number(from.split(':')[1]) - 1]).toContain('let rh = covering(ih, p.OH);');
    expect(err?.message).toContain(`shaders/pool.wgsl:${n}:`);
    expect(err?.message).toContain(`(from ${from})`);
    expect(err?.message).toMatch(/undefined_thing/);
  });
});
