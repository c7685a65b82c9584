import { gradOf, record } from '../autograd/engine.js';
import { type Shape, type Tensor, Storage, Tensor as TensorClass, empty, shapeStr, sizeOf } from '../tensor/tensor.js';
import { checkSameShape, checkTensor, dispatch, fail, groups256 } from './util.js';

function binary(op: 'add' | 'mul', a: Tensor, b: Tensor): Tensor {
  checkTensor(op, 'a', a);
  checkTensor(op, 'b', b);
  checkSameShape(op, a, b);
  const out = empty(a.shape);
  dispatch({ op, kernel: 'elementwise', entry: op, buffers: { a, b, out }, params: { n: out.size, alpha: 1 }, workgroups: groups256(out.size) });
  return out;
}

/** Adds into `target.grad`: target.grad += alpha * g. */
export function accumulate(target: Tensor, g: Tensor, op: string, alpha = 1): void {
  const dst = gradOf(target);
  dispatch({ op, kernel: 'elementwise', entry: 'axpy', buffers: { a: g, out: dst }, params: { n: dst.size, alpha }, workgroups: groups256(dst.size) });
}

/** a + b, same shapes (residual connections). */
export function add(a: Tensor, b: Tensor): Tensor {
  const out = binary('add', a, b);
  return record('add', [a, b], out, [], (g) => {
    if (a.requiresGrad) accumulate(a, g, 'add.backward');
    if (b.requiresGrad) accumulate(b, g, 'add.backward');
  });
}

/** a * b element-wise, same shapes. */
export function mul(a: Tensor, b: Tensor): Tensor {
  const out = binary('mul', a, b);
  return record('mul', [a, b], out, [a, b], (g, [sa, sb]) => {
    if (a.requiresGrad) dispatch({ op: 'mul.backward', kernel: 'elementwise', entry: 'mul_acc', buffers: { a: g, b: sb, out: gradOf(a) }, params: { n: g.size, alpha: 1 }, workgroups: groups256(g.size) });
    if (b.requiresGrad) dispatch({ op: 'mul.backward', kernel: 'elementwise', entry: 'mul_acc', buffers: { a: g, b: sa, out: gradOf(b) }, params: { n: g.size, alpha: 1 }, workgroups: groups256(g.size) });
  });
}

/** alpha * x. */
export function scale(x: Tensor, alpha: number): Tensor {
  checkTensor('scale', 'x', x);
  const out = empty(x.shape);
  dispatch({ op: 'scale', kernel: 'elementwise', entry: 'scale', buffers: { a: x, out }, params: { n: out.size, alpha }, workgroups: groups256(out.size) });
  return record('scale', [x], out, [], (g) => accumulate(x, g, 'scale.backward', alpha));
}

export function relu(x: Tensor): Tensor {
  checkTensor('relu', 'x', x);
  const out = empty(x.shape);
  dispatch({ op: 'relu', kernel: 'elementwise', entry: 'relu', buffers: { a: x, out }, params: { n: out.size, alpha: 1 }, workgroups: groups256(out.size) });
  return record('relu', [x], out, [out], (g, [y]) => {
    dispatch({ op: 'relu.backward', kernel: 'elementwise', entry: 'relu_backward', buffers: { a: g, b: y, out: gradOf(x) }, params: { n: g.size, alpha: 1 }, workgroups: groups256(g.size) });
  });
}

/** A view with a new shape over the same buffer (no copy). One dimension may be -1. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  checkTensor('reshape', 'x', x);
  const unknown = shape.filter((d) => d === -1).length;
  if (unknown > 1) fail('reshape', `at most one -1 in the new shape, got ${shapeStr(shape)}`);
  const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const resolved: Shape = shape.map((d) => (d === -1 ? x.size / known : d));
  if (sizeOf(resolved) !== x.size || resolved.some((d) => !Number.isInteger(d) || d < 1)) {
    fail('reshape', `cannot reshape ${shapeStr(x.shape)} (${x.size} elements) to ${shapeStr(shape)}`);
  }
  const out = new TensorClass(resolved, x.storage.retain() as Storage);
  return record('reshape', [x], out, [], (g) => accumulate(x, g, 'reshape.backward'));
}

/** [N, ...] → [N, prod(rest)]. */
export function flatten(x: Tensor): Tensor {
  checkTensor('flatten', 'x', x);
  return reshape(x, [x.shape[0], x.size / x.shape[0]]);
}
