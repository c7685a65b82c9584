import { gradOf, record } from '../autograd/engine.js';
import { type Shape, type Tensor, Storage, Tensor as TensorClass, empty, shapeStr, sizeOf } from '../tensor/tensor.js';
import type { Bindable } from '../gpu/runtime.js';
import { keep } from '../tensor/scope.js';
import { checkSameShape, checkTensor, dispatch, fail } from './util.js';

const WG = 64;
const RUN = 4;

/** One dispatch of an element-wise entry of shaders/elementwise.wgsl over n floats (processed as vec4s). */
export function elementwise(op: string, entry: string, n: number, buffers: Record<string, Bindable>, alpha = 1): void {
  const n4 = Math.ceil(n / 4);
  dispatch({ op, kernel: 'elementwise', entry, buffers, params: { n4, alpha }, workgroups: Math.ceil(n4 / (WG * RUN)) });
}

function binary(op: 'add' | 'mul', a: Tensor, b: Tensor): Tensor {
  checkTensor(op, 'a', a);
  checkTensor(op, 'b', b);
  checkSameShape(op, a, b);
  const out = empty(a.shape);
  elementwise(op, op, out.size, { a, b, out });
  return out;
}

/** Adds into `target.grad`: target.grad += alpha * g. */
export function accumulate(target: Tensor, g: Tensor, op: string, alpha = 1): void {
  const dst = gradOf(target);
  elementwise(op, 'axpy', dst.size, { a: g, out: dst }, alpha);
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
    if (a.requiresGrad) elementwise('mul.backward', 'mul_acc', g.size, { a: g, b: sb, out: gradOf(a) });
    if (b.requiresGrad) elementwise('mul.backward', 'mul_acc', g.size, { a: g, b: sa, out: gradOf(b) });
  });
}

/** alpha * x. */
export function scale(x: Tensor, alpha: number): Tensor {
  checkTensor('scale', 'x', x);
  const out = empty(x.shape);
  elementwise('scale', 'scale', out.size, { a: x, out }, alpha);
  return record('scale', [x], out, [], (g) => accumulate(x, g, 'scale.backward', alpha));
}

export function relu(x: Tensor): Tensor {
  checkTensor('relu', 'x', x);
  const out = empty(x.shape);
  elementwise('relu', 'relu', out.size, { a: x, out });
  return record('relu', [x], out, [out], (g, [y]) => {
    elementwise('relu.backward', 'relu_backward', g.size, { a: g, b: y, out: gradOf(x) });
  });
}

/**
 * relu(add(a, b)) in one pass forward and one backward (a residual block's output): the same values as the two
 * ops, two dispatches fewer forward and two fewer backward (relu_backward and the second axpy).
 */
export function addRelu(a: Tensor, b: Tensor): Tensor {
  const op = 'addRelu';
  checkTensor(op, 'a', a);
  checkTensor(op, 'b', b);
  checkSameShape(op, a, b);
  const out = empty(a.shape);
  elementwise(op, 'add_relu', out.size, { a, b, out });
  return record(op, [a, b], out, [out], (g, [y]) => {
    const bop = 'addRelu.backward';
    const ga = a.requiresGrad ? gradOf(a) : null;
    const gb = b.requiresGrad ? gradOf(b) : null;
    // One pass into both gradients when they are two buffers; otherwise (one input needs none, or add(x, x)) one
    // relu_backward per gradient, as relu(add(a, b)) would add.
    if (ga && gb && ga !== gb) return elementwise(bop, 'add_relu_backward', g.size, { a: g, b: y, out: ga, out2: gb });
    for (const t of [ga, gb]) if (t) elementwise(bop, 'relu_backward', g.size, { a: g, b: y, out: t });
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
  const out = new TensorClass(resolved, x.storage.retain() as Storage, false, x.dtype);
  return record('reshape', [x], out, [], (g) => passGradient(x, g, 'reshape.backward'));
}

/**
 * The backward of an op whose gradient is the output's, unchanged (reshape, cast): an intermediate without a
 * gradient yet takes the output's gradient buffer as its own (same values, no copy pass); the engine drops the
 * output's gradient right after the rule. Leaves (parameters) keep a buffer of their own from gradOf, and a
 * gradient that exists already is added into.
 */
export function passGradient(x: Tensor, g: Tensor, op: string): void {
  if (!x.isLeaf && !x.grad) x.grad = keep(new TensorClass(x.shape, g.storage.retain() as Storage));
  else accumulate(x, g, op);
}

/** [N, ...] → [N, prod(rest)]. */
export function flatten(x: Tensor): Tensor {
  checkTensor('flatten', 'x', x);
  return reshape(x, [x.shape[0], x.size / x.shape[0]]);
}
