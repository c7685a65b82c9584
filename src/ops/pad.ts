import { gradOf, record } from '../autograd/engine.js';
import { type Tensor, empty, shapeStr } from '../tensor/tensor.js';
import { checkRank, dispatch, fail } from './util.js';

/** Values each invocation copies (one run of a plane): amortises the index divisions over a run. */
const RUN = 64;

/**
 * Zero-pads the channel dimension: x [N, C, H, W] → [N, n, H, W], channels C..n−1 zero (feeds an RGB
 * image into a shared layer n channels wide). Backward adds the first C gradient channels into x's gradient.
 */
export function padChannels(x: Tensor, n: number): Tensor {
  const op = 'padChannels';
  checkRank(op, 'x', x, 4, '[N, C, H, W]');
  const [N, C, H, W] = x.shape;
  if (!Number.isInteger(n) || n < C) fail(op, `n must be an integer ≥ C = ${C} for x ${shapeStr(x.shape)}, got n = ${n}`);
  const HW = H * W;
  // vec4 entry points when planes split into vec4s; HW and L are then counted in vec4s.
  const V = HW % 4 === 0 ? 4 : 1;
  const sfx = V === 4 ? '4' : '';
  const L = Math.min(RUN / V, HW / V);
  const J = Math.ceil(HW / V / L);
  const out = empty([N, n, H, W]);
  const fwd = { C, Cout: n, HW: HW / V, L, J, units: N * n * J };
  const v4 = (name: string) => (V === 4 ? `${name}4` : name);
  dispatch({ op, kernel: 'pad', entry: `forward${sfx}`, buffers: { [v4('x')]: x, [v4('out')]: out }, params: fwd, workgroups: Math.ceil(fwd.units / 64) });
  return record(op, [x], out, [], (g) => {
    const bwd = { ...fwd, units: N * C * J };
    dispatch({ op: `${op}.backward`, kernel: 'pad', entry: `backward${sfx}`, buffers: { [v4('dy')]: g, [v4('out')]: gradOf(x) }, params: bwd, workgroups: Math.ceil(bwd.units / 64) });
  });
}
