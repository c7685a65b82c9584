// The architecture check: dependency-cruiser (its API; the `depcruise` CLI refuses Node 20, the API runs on it)
// validates every import of src/**/*.ts (and of the demo page, demo/src, which imports src/ files) against
// .dependency-cruiser.cjs: no cycle, no upward import between the layers, no node:* builtin, Node-only package or
// Node-only file in code the browser loads. `npm run layers` runs only this file.
import { createRequire } from 'node:module';
import { beforeAll, describe, expect, it } from 'vitest';
import { cruise, type ICruiseResult, type IViolation } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';

const CONFIG = './.dependency-cruiser.cjs';
interface Rule {
  name: string;
  from: { path?: string };
  to: { path?: string };
}
const { forbidden } = createRequire(import.meta.url)(`.${CONFIG}`) as { forbidden: Rule[] };
/** The layer order, bottom to top, read back from the rules: the bottom layer's rule lists every layer above it. */
const bottom = forbidden.find((r) => r.name.startsWith('layer-'))!;
const LAYERS = [bottom.name.slice('layer-'.length), .../^\^src\/\((.*)\)\/$/.exec(bottom.to.path!)![1]!.split('|')];

async function cruiseSrc(): Promise<ICruiseResult> {
  const options = await extractDepcruiseOptions(CONFIG);
  const out = await cruise(['src', 'demo/src'], { ...options, validate: true }, undefined, { tsConfig: extractTSConfig('tsconfig.json') });
  return out.output as ICruiseResult;
}

const describeViolation = (v: IViolation): string =>
  `${v.rule.name}: ${v.from} → ${v.to}${v.cycle?.length ? ` (cycle: ${[v.from, ...v.cycle.map((c) => c.name)].join(' → ')})` : ''}`;

describe('layers (dependency-cruiser, .dependency-cruiser.cjs)', () => {
  let result: ICruiseResult;
  beforeAll(async () => {
    result = await cruiseSrc();
  }, 60_000);

  it('cruises every source file', () => {
    const sources = result.modules.filter((m) => /^(src|demo\/src)\//.test(m.source));
    expect(sources.filter((m) => m.source.startsWith('src/')).length).toBeGreaterThan(80);
    expect(sources.filter((m) => m.source.startsWith('demo/src/')).length).toBeGreaterThan(5);
    // Imports the resolver could not follow would hide violations.
    expect(sources.flatMap((m) => m.dependencies.filter((d) => d.couldNotResolve).map((d) => `${m.source} → ${d.module}`))).toEqual([]);
  });

  it('has no import cycle, no upward import and no Node-only import in browser code', () => {
    expect(result.summary.violations.map(describeViolation)).toEqual([]);
  });

  it('sees the rules fire: the layer order matches the folders, and a seeded violation is reported', async () => {
    expect(LAYERS).toEqual(['platform', 'gpu', 'device', 'tensor', 'autograd', 'ops', 'nn', 'optim', 'models', 'io', 'data', 'train', 'analysis', 'cli']);
    const folders = new Set(result.modules.filter((m) => /^src\/[^/]+\//.test(m.source)).map((m) => m.source.split('/')[1]!));
    expect([...folders].filter((f) => f !== 'node' && !LAYERS.includes(f))).toEqual([]);
    // The same rules on a tree with a known cycle, upward import and node:* import in browser code.
    const options = await extractDepcruiseOptions(CONFIG);
    const fixture = await cruise(['src'], { ...options, validate: true, baseDir: 'test/fixtures/layers' }, undefined, {
      tsConfig: extractTSConfig('tsconfig.json'),
    });
    const names = new Set((fixture.output as ICruiseResult).summary.violations.map((v) => v.rule.name));
    expect([...names].sort()).toEqual(['layer-tensor', 'no-cycle', 'node-builtin-in-browser-code', 'node-file-in-browser-code']);
  }, 60_000);
});
