import { it, expect } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSweep } from '../src/analysis/sweep-node.js';
it('real mini sweep', async () => {
  const out = await mkdtemp(join(tmpdir(), 'real-sweep-'));
  const t = performance.now();
  const r = await runSweep({ models: ['s-resnet18', 'sl-resnet18'], widths: [4], dataset: 'mnist', epochs: 1, batchSize: 8, lr: 0.05, maxStepsPerEpoch: 2, maxEvalImages: 16, quiet: true, out });
  console.log(out, (performance.now() - t) / 1000, JSON.stringify(r.results));
  expect(r.results.length).toBe(2);
}, 600000);
