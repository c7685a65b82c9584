import { gradOf, record } from '../autograd/engine.js';
import { type Tensor, empty, shapeStr } from '../tensor/tensor.js';
import { checkRank, dispatch, fail, groups256 } from './util.js';

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
  const out = empty([N, n, H, W]);
  dispatch({ op, kernel: 'pad', entry: 'forward', buffers: { x, out }, params: { C, Cout: n, HW, total: out.size }, workgroups: groups256(out.size) });
  return record(op, [x], out, [], (g) => {
    dispatch({ op: `${op}.backward`, kernel: 'pad', entry: 'backward', buffers: { dy: g, out: gradOf(x) }, params: { C, Cout: n, HW, total: x.size }, workgroups: groups256(x.size) });
  });
}
