// The browser parity comparison (test/browser/checks.mjs) must tolerate rounding noise in a gradient that is zero in
// exact arithmetic, yet still catch a real difference in any tensor.
import { describe, expect, it } from 'vitest';
// @ts-expect-error: plain ESM helper of the browser tests, without type declarations
import { compareParity } from './browser/checks.mjs';

function result(grads: Record<string, number[]>) {
  return { loss: 2.3, logits: [0.1, -0.2], params: { 'shared.weight': [0.5] }, grads };
}

describe('browser parity comparison', () => {
  const node = result({ 'shared.weight': [3.98, -1.2], 'shared.bias': [1.27e-6, -4e-7], 'bn.weight': [0.1, 0.05], 'bn.bias': [0.09, -0.02] });

  it('accepts rounding noise in a bias gradient that BatchNorm makes zero', () => {
    const web = result({ 'shared.weight': [3.98 + 2.5e-6, -1.2], 'shared.bias': [1.7e-7, 6e-7], 'bn.weight': [0.1, 0.05], 'bn.bias': [0.09, -0.02] });
    const r = compareParity(node, web, 1e-5);
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
  });

  it('catches a real difference in a small gradient and in the noisy one', () => {
    const small = result({ 'shared.weight': [3.98, -1.2], 'shared.bias': [1.27e-6, -4e-7], 'bn.weight': [0.1, 0.05], 'bn.bias': [0.0901, -0.02] });
    expect(compareParity(node, small, 1e-5).problems).toEqual([expect.stringMatching(/^gradient of bn\.bias/)]);
    const bias = result({ 'shared.weight': [3.98, -1.2], 'shared.bias': [1e-3, -4e-7], 'bn.weight': [0.1, 0.05], 'bn.bias': [0.09, -0.02] });
    expect(compareParity(node, bias, 1e-5).problems).toEqual([expect.stringMatching(/^gradient of shared\.bias/)]);
  });

  it('catches different losses, logits and initial values', () => {
    const web = { ...result(node.grads), loss: 2.31, params: { 'shared.weight': [0.50001] } };
    const problems = compareParity(node, web, 1e-5).problems.join('\n');
    expect(problems).toMatch(/^loss/m);
    expect(problems).toMatch(/initial shared\.weight differs/);
  });
});
