import { context, runtime } from '../device/index.js';
import type { DispatchSpec } from '../gpu/runtime.js';
import { type Shape, type Tensor, shapeStr } from '../tensor/tensor.js';
import type { DType } from '../tensor/dtype.js';

/** Errors thrown at call time for bad arguments: they name the op and the shapes involved. */
export class ShapeError extends Error {
  override name = 'ShapeError';
}

export function fail(op: string, message: string): never {
  throw new ShapeError(`onelayer: ${op}: ${message}`);
}

/** Fails unless t is a live Tensor of one of `dtypes` (f32 only unless the op says otherwise). */
export function checkTensor(op: string, what: string, t: unknown, dtypes: readonly DType[] = F32): asserts t is Tensor {
  if (!t || typeof t !== 'object' || !('shape' in t) || !('gpuBuffer' in t)) fail(op, `${what} must be a onelayer Tensor, got ${t === null ? 'null' : typeof t}`);
  const x = t as Tensor;
  if (x.isDisposed) fail(op, `${what} ${shapeStr(x.shape)} was disposed`);
  if (!dtypes.includes(x.dtype)) fail(op, `${what} ${shapeStr(x.shape)} is ${x.dtype}; this op takes ${dtypes.join(' or ')} (cast() converts)`);
}

const F32: readonly DType[] = ['f32'];

export function checkRank(op: string, what: string, t: Tensor, rank: number, layout = '', dtypes: readonly DType[] = F32): void {
  checkTensor(op, what, t, dtypes);
  if (t.ndim !== rank) fail(op, `${what} must be ${rank}-D${layout ? ` ${layout}` : ''}, got shape ${shapeStr(t.shape)}`);
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function checkSameShape(op: string, a: Tensor, b: Tensor, an = 'a', bn = 'b'): void {
  if (!sameShape(a.shape, b.shape)) fail(op, `shape mismatch: ${an} ${shapeStr(a.shape)} vs ${bn} ${shapeStr(b.shape)}`);
}

/** Workgroups for a 1-D element-wise kernel of 256 invocations. */
export function groups256(n: number): number {
  return Math.ceil(n / 256);
}

/** True on a CPU-backed adapter, where kernels prefer fewer, larger workgroups. */
export function softwareAdapter(): boolean {
  return runtime().software;
}

/**
 * The kinds of adapter kernels are chosen for. lavapipe (Mesa's llvmpipe: LLVM, 8-lane AVX2 invocations, compiles
 * at the first dispatch) and SwiftShader (Subzero JIT, compiles at pipeline creation) are both CPUs but differ in
 * what pays (docs/bench/conv-variants.md); 'software' is any other CPU adapter, treated as SwiftShader.
 */
export type AdapterKind = 'gpu' | 'lavapipe' | 'swiftshader' | 'software';

const KINDS = new WeakMap<object, AdapterKind>();

/** The kind of the current adapter, from its description (cached per device context). */
export function adapterKind(): AdapterKind {
  const ctx = context();
  let kind = KINDS.get(ctx);
  if (!kind) {
    const i = ctx.info;
    const text = `${i.vendor} ${i.architecture} ${i.device} ${i.description}`.toLowerCase();
    kind = /llvmpipe|lavapipe/.test(text) ? 'lavapipe' : /swiftshader/.test(text) ? 'swiftshader' : i.software ? 'software' : 'gpu';
    KINDS.set(ctx, kind);
  }
  return kind;
}

export function dispatch(spec: DispatchSpec, flops = 0): void {
  runtime().dispatch(spec, flops);
}
