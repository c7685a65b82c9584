// onelayer: the public API. Everything here runs the same in Node (Dawn) and in the browser (navigator.gpu).
export { init, context, runtime, shutdown, WebGPUUnavailableError, type DeviceContext, type InitOptions, type AdapterSummary } from './device/index.js';
export { GPUOpError } from './gpu/runtime.js';
export { ShaderCompileError } from './gpu/shaders.js';
export type { MemoryStats } from './gpu/pool.js';
export { Tensor, tensor, empty, zeros, ones, full, randn, uniform, type Shape, type TensorOptions } from './tensor/tensor.js';
export { tidy, keep, dispose } from './tensor/scope.js';
export { Random, manualSeed } from './tensor/random.js';
export { noGrad, isGradEnabled, gradBufferCount } from './autograd/engine.js';
export { ShapeError } from './ops/util.js';
export { add, mul, scale, relu, reshape, flatten } from './ops/elementwise.js';

import { runtime as currentRuntime } from './device/index.js';
import type { MemoryStats } from './gpu/pool.js';

/** Live and pooled GPU bytes and buffer counts. */
export function memoryStats(): MemoryStats {
  return currentRuntime().memoryStats();
}
