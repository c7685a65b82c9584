import { gradOf, record } from '../autograd/engine.js';
import { type Tensor, empty, shapeStr } from '../tensor/tensor.js';
import { checkRank, checkTensor, dispatch, fail } from './util.js';

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

/**
 * The first C entries of dimension 1: x [N, Cin, ...] → [N, C, ...] (a weight's first C input channels).
 * Backward adds into those C channels of x's gradient and leaves the others as they are.
 */
export function narrowChannels(x: Tensor, C: number): Tensor {
  const op = 'narrowChannels';
  checkTensor(op, 'x', x);
  if (x.ndim < 2) fail(op, `x must have at least 2 dimensions, got shape ${shapeStr(x.shape)}`);
  const [N, Cin, ...rest] = x.shape;
  if (!Number.isInteger(C) || C < 1 || C > Cin) fail(op, `C must be an integer in [1, ${Cin}] for x ${shapeStr(x.shape)}, got ${C}`);
  const HW = rest.reduce((a, b) => a * b, 1);
  const L = Math.min(RUN, HW);
  const J = Math.ceil(HW / L);
  const params = { C, Cout: Cin, HW, L, J, units: N * C * J };
  const out = empty([N, C, ...rest]);
  dispatch({ op, kernel: 'pad', entry: 'narrow', buffers: { x, out }, params, workgroups: Math.ceil(params.units / 64) });
  return record(op, [x], out, [], (g) => {
    dispatch({ op: `${op}.backward`, kernel: 'pad', entry: 'narrow_backward', buffers: { dy: g, out: gradOf(x) }, params, workgroups: Math.ceil(params.units / 64) });
  });
}
