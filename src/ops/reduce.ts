import { gradOf, record } from '../autograd/engine.js';
import { type Tensor, empty } from '../tensor/tensor.js';
import { checkTensor, dispatch, groups256 } from './util.js';

/** Values one partial_sum workgroup reduces (WG · PER in shaders/reduce.wgsl). */
const CHUNK = 1024;

/** scale · Σ x as a [] tensor: repeated fixed-order partial sums (n → ⌈n/1024⌉ → … → 1), deterministic. */
function reduceAll(op: string, x: Tensor, scale: number): Tensor {
  let src: Tensor = x;
  let n = x.size;
  for (;;) {
    const groups = Math.ceil(n / CHUNK);
    const last = groups === 1;
    const out = last ? empty([]) : empty([groups]);
    dispatch({ op, kernel: 'reduce', entry: 'partial_sum', buffers: { x: src, out }, params: { n, scale: last ? scale : 1 }, workgroups: groups }, n);
    // Intermediate partial sums are freed once recorded: later reuse of the buffer is ordered after this pass.
    if (src !== x) src.dispose();
    if (last) return out;
    src = out;
    n = groups;
  }
}

/** gx += scale · g[0] for every element: the backward of sum/mean. */
function broadcastBackward(op: string, x: Tensor, g: Tensor, scale: number): void {
  const gx = gradOf(x);
  dispatch({ op, kernel: 'reduce', entry: 'broadcast_acc', buffers: { g, gx }, params: { n: gx.size, scale }, workgroups: groups256(gx.size) });
}

/** Σ of all elements, shape [] (torch.sum(x)). */
export function sum(x: Tensor): Tensor {
  checkTensor('sum', 'x', x);
  const out = reduceAll('sum', x, 1);
  return record('sum', [x], out, [], (g) => broadcastBackward('sum.backward', x, g, 1));
}

/** Mean of all elements, shape [] (torch.mean(x)). */
export function mean(x: Tensor): Tensor {
  checkTensor('mean', 'x', x);
  const out = reduceAll('mean', x, 1 / x.size);
  return record('mean', [x], out, [], (g) => broadcastBackward('mean.backward', x, g, 1 / x.size));
}
