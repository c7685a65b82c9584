import { record } from '../autograd/engine.js';
import type { DType } from '../tensor/dtype.js';
import { type Tensor, empty } from '../tensor/tensor.js';
import { runtime } from '../device/index.js';
import { passGradient } from './elementwise.js';
import { checkTensor, dispatch, fail } from './util.js';

const WG = 64;

/** Whether this device can hold f16 tensors (the adapter has `shader-f16`, so shaders/cast.wgsl was loaded). */
export function hasF16(): boolean {
  return runtime().hasKernel('cast');
}

/** Fails with a clear message where the device has no f16. */
export function requireF16(what: string): void {
  if (!hasF16()) fail(what, "f16 needs the adapter feature 'shader-f16', which this adapter does not offer (onelayer info lists its features)");
}

/**
 * x converted to `dtype` (x itself when it already is). f32 → f16 rounds to nearest even and turns values beyond
 * f16's range into ±infinity (so that loss scaling notices an overflow). The gradient passes through unchanged:
 * gradients are f32 whatever the tensor's dtype.
 */
export function cast(x: Tensor, dtype: DType): Tensor {
  const op = 'cast';
  checkTensor(op, 'x', x, ['f32', 'f16']);
  if (x.dtype === dtype) return x;
  requireF16(op);
  const out = empty(x.shape, { dtype });
  const n4 = Math.ceil(x.size / 4);
  const buffers: Record<string, Tensor> = dtype === 'f16' ? { src32: x, dst16: out } : { src16: x, dst32: out };
  dispatch({ op, kernel: 'cast', entry: dtype === 'f16' ? 'to_f16' : 'to_f32', buffers, params: { n4 }, workgroups: Math.ceil(n4 / WG) });
  // Gradients are f32 on both sides: the output's gradient is the input's.
  return record(op, [x], out, [], (g) => passGradient(x, g, 'cast.backward'));
}
