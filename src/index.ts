// onelayer: the public API. Everything here runs the same in Node (Dawn) and in the browser (navigator.gpu).
export { init, context, runtime, shutdown, WebGPUUnavailableError, type DeviceContext, type InitOptions, type AdapterSummary } from './device/index.js';
export { GPUOpError, DeviceLostError } from './gpu/runtime.js';
export { ShaderCompileError } from './gpu/shaders.js';
export type { MemoryStats } from './gpu/pool.js';
export { Tensor, tensor, empty, zeros, ones, full, randn, uniform, type Shape, type TensorOptions } from './tensor/tensor.js';
export { tidy, keep, dispose } from './tensor/scope.js';
export { compileStep, type CompiledStep, type CompileOptions } from './tensor/compile.js';
export { CaptureError } from './gpu/capture.js';
export { Random, manualSeed } from './tensor/random.js';
export { noGrad, isGradEnabled, gradBufferCount } from './autograd/engine.js';
export { ShapeError } from './ops/util.js';
export { add, addRelu, mul, scale, relu, reshape, flatten } from './ops/elementwise.js';
export { cast, hasF16 } from './ops/cast.js';
export type { DType } from './tensor/dtype.js';
export { conv2d, withVariant, CONV_VARIANTS, type Conv2dOptions, type ConvVariant, type ConvPass, type AdapterKind } from './ops/conv/index.js';
export { blend } from './ops/blend.js';
export { foldBlend } from './ops/fold.js';
export { linear } from './ops/linear.js';
export { crossEntropy, argmaxCorrect, type Labels } from './ops/loss.js';
export { sum, mean } from './ops/reduce.js';
export { SGD, zeroGrad, type SGDOptions } from './optim/sgd.js';
export { LossScaler, type LossScalerOptions, type LossScalerState } from './optim/scaler.js';
export { batchNorm2d, batchNormRelu, type BatchNorm2dOptions } from './ops/norm.js';
export { maxPool2d, avgPool2d, globalAvgPool2d, type Pool2dOptions } from './ops/pool.js';
export { padChannels, narrowChannels } from './ops/pad.js';
export { encodeSafetensors, decodeSafetensors, readSafetensorsHeader, SafetensorsError, type NamedTensorData, type SafetensorsHeader, type SafetensorsEntry } from './io/safetensors.js';
export { Module, StateDictError, Conv2d, BatchNorm2d, Linear, Blend, ReLU, MaxPool2d, Sequential, ModuleList, type StateEntry, type LoadStateDictOptions, type LoadStateDictResult, type InitOptions as LayerInitOptions, type Conv2dOptions as Conv2dLayerOptions, type BlendOptions } from './nn/index.js';
export * as analysis from './analysis/index.js';
export { MODEL_NAMES, BASELINE_NAMES, Model, createModel, resolveConfig, isModelName, subsample2d, autoArch, RESNET_ARCHS, parameterBreakdown, compressionFactor, modelTable, formatTable, type ModelName, type BaselineName, type ModelOptions, type ModelConfig, type ResNetArch, type ParameterBreakdown, type ModelTableRow } from './models/index.js';
export { Trainer, evaluateModel, countCorrect, NonFiniteLossError, type TrainerConfig, type EpochResult } from './train/trainer.js';
export { learningRate } from './train/schedule.js';
export { modelCheckpoint, optimizerCheckpoint, loadModelCheckpoint, loadOptimizerCheckpoint, parseInfo, type CheckpointInfo } from './train/checkpoint.js';
export type { TrainConfig, RunSummary, Progress, EpochMetrics } from './train/types.js';
export { RunLoop, RunControl, MemoryCheckpointStore, TrainingAbortedError, progressOf, type RunEvent, type StepEvent, type CheckpointStore, type TrainingCheckpoint, type LoopConfig, type RunLoopOptions } from './train/loop.js';
export { modelFromCheckpoint, applyOptimizerState, type RestoredModel } from './train/restore.js';
export { BatchLoader } from './data/loader.js';
export type { Dataset, DatasetSplit, Batch } from './data/types.js';
export { Profiler, summarize as summarizeProfile, formatSummary as formatProfile, chromeTrace, compileSummary, formatCompiles, type TimedDispatch, type KernelSummary, type PipelineCompile } from './gpu/profiler.js';

import { runtime as currentRuntime } from './device/index.js';
import type { MemoryStats } from './gpu/pool.js';

/** Live and pooled GPU bytes and buffer counts. */
export function memoryStats(): MemoryStats {
  return currentRuntime().memoryStats();
}
