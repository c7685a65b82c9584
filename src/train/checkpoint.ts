// Checkpoints as safetensors files. Two kinds:
// - model files (model.safetensors): the state_dict under PyTorch names, opens in PyTorch as it is;
// - training checkpoints (checkpoint.safetensors): the model, the optimizer's momentum and the run's position
//   (epoch, step, settings, metrics so far) in ONE file, so one atomic rename moves a run from one complete
//   state to the next and a resume continues bit-identically.
import { encodeSafetensors, decodeSafetensors, readSafetensorsHeader, type NamedTensorData } from '../io/safetensors.js';
import type { Module } from '../nn/module.js';
import type { SGD } from '../optim/sgd.js';
import type { LossScalerState } from '../optim/scaler.js';
import { tensor, type Tensor } from '../tensor/tensor.js';
import { runtime } from '../device/index.js';
import { MODEL_NAMES, RESNET_ARCHS, type ResNetArch } from '../models/model.js';
import type { RunFingerprint } from './fingerprint.js';
import type { EpochMetrics } from './types.js';

/** What a checkpoint says about the model it holds (safetensors __metadata__, all strings there). */
export interface CheckpointInfo {
  model: string;
  width: number | null;
  numClasses: number;
  inChannels: number;
  inputSize: number;
  stem: string;
  /**
   * The ResNets' form the model was built with ('cifar' for VGG). Filled in from the model when a checkpoint is
   * written without it; a checkpoint written before the field existed reads as 'cifar' (the only form then).
   */
  arch?: ResNetArch;
  dataset: string;
  epoch: number;
  globalStep: number;
  testAccuracy?: number;
  /** The dataset's class names, index = label (metadata: a JSON array). */
  classNames?: string[];
  /** imagefolder split by --val-fraction: the fraction (eval splits the folder the same way). */
  valFraction?: number;
}

/** A checkpoint that cannot be used: the message names the file, the tensor or field, and what was expected. */
export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/** Where a run stands, stored in a training checkpoint next to the weights. */
export interface RunState {
  /** The settings the run trains with; a resume must ask for the same. */
  config: RunFingerprint;
  /** One row per completed epoch, as metrics.jsonl holds them. */
  metrics: EpochMetrics[];
  /** SGD.step() calls so far. */
  optimizerSteps: number;
  /** precision 'mixed': the loss scaler's scale and counters. */
  lossScaler?: LossScalerState;
}

/** Names of SGD momentum tensors in a training checkpoint: `optimizer.momentum.<parameter name>`. */
export const MOMENTUM_PREFIX = 'optimizer.momentum.';

async function readAll(named: [string, Tensor][]): Promise<NamedTensorData[]> {
  runtime().flush();
  const out: NamedTensorData[] = [];
  for (const [name, t] of named) out.push({ name, shape: [...t.shape], data: await t.toArray() });
  return out;
}

/** Throws naming the first tensor and index that holds NaN or ±Infinity. */
export function assertFinite(tensors: readonly NamedTensorData[], source: string, what = 'checkpoint'): void {
  for (const t of tensors) {
    const d = t.data;
    for (let i = 0; i < d.length; i++) {
      if (!Number.isFinite(d[i])) {
        let bad = 0;
        for (let j = i; j < d.length; j++) if (!Number.isFinite(d[j])) bad++;
        throw new CheckpointError(`${source}: ${what} tensor "${t.name}" holds ${d[i]} at index ${i} (${bad} of its ${d.length} values are not finite); refusing non-finite weights`);
      }
    }
  }
}

function toMetadata(info: CheckpointInfo): Record<string, string> {
  const m: Record<string, string> = { format: 'pt', framework: 'onelayer' };
  for (const [k, v] of Object.entries(info)) if (v !== undefined && v !== null) m[k] = Array.isArray(v) ? JSON.stringify(v) : String(v);
  return m;
}

/**
 * The model description in a checkpoint's metadata, validated with ranges before anything is sized from it.
 * Errors name the file, the field, the value found and what was expected.
 */
export function parseInfo(meta: Record<string, string>, source: string): CheckpointInfo {
  const fail = (msg: string): never => {
    throw new CheckpointError(`onelayer: ${source}: ${msg}`);
  };
  if (!meta.model) fail(`not an onelayer checkpoint (no 'model' in the safetensors metadata)`);
  if (!(MODEL_NAMES as readonly string[]).includes(meta.model)) fail(`metadata model '${meta.model}' is not a known model (expected one of ${MODEL_NAMES.join(', ')})`);
  const int = (k: string, fallback: number, min: number, max: number): number => {
    const s = meta[k];
    if (s === undefined || s === '') return fallback;
    const v = Number(s);
    if (!/^-?\d+$/.test(s.trim()) || !Number.isSafeInteger(v) || v < min || v > max) fail(`metadata ${k} = '${s}' is not an integer in [${min}, ${max}]`);
    return v;
  };
  const shared = /^sl?-/.test(meta.model);
  let width: number | null = null;
  if (meta.width !== undefined && meta.width !== '' && meta.width !== 'null') width = int('width', 0, 1, 65_536);
  if (shared && width === null) fail(`metadata model '${meta.model}' is a shared model but the checkpoint gives no width`);
  const stem = meta.stem ?? 'pad';
  if (stem !== 'pad' && stem !== 'conv') fail(`metadata stem '${stem}' is not 'pad' or 'conv'`);
  const arch = (meta.arch ?? 'cifar') as ResNetArch;
  if (!RESNET_ARCHS.includes(arch)) fail(`metadata arch '${arch}' is not 'cifar' or 'imagenet'`);
  let testAccuracy: number | undefined;
  if (meta.testAccuracy !== undefined) {
    testAccuracy = Number(meta.testAccuracy);
    if (!(testAccuracy >= 0 && testAccuracy <= 1)) fail(`metadata testAccuracy '${meta.testAccuracy}' is not a number in [0, 1]`);
  }
  const numClasses = int('numClasses', 10, 1, 65_536);
  let classNames: string[] | undefined;
  if (meta.classNames !== undefined) {
    try {
      classNames = JSON.parse(meta.classNames) as string[];
    } catch {
      /* reported below */
    }
    if (!Array.isArray(classNames) || classNames.length !== numClasses || !classNames.every((n) => typeof n === 'string')) {
      fail(`metadata classNames is not a JSON array of ${numClasses} strings`);
    }
  }
  let valFraction: number | undefined;
  if (meta.valFraction !== undefined) {
    valFraction = Number(meta.valFraction);
    if (!(valFraction > 0 && valFraction < 1)) fail(`metadata valFraction '${meta.valFraction}' is not a number in (0, 1)`);
  }
  return {
    model: meta.model,
    width: shared ? width : null,
    // Labels are 16-bit; 65,536 classes is the most a dataset here can have.
    numClasses,
    inChannels: int('inChannels', 3, 1, 4_096),
    inputSize: int('inputSize', 32, 1, 65_536),
    stem,
    arch,
    dataset: meta.dataset ?? '',
    epoch: int('epoch', 0, 0, 1e9),
    globalStep: int('globalStep', 0, 0, Number.MAX_SAFE_INTEGER),
    testAccuracy,
    ...(classNames ? { classNames } : {}),
    ...(valFraction !== undefined ? { valFraction } : {}),
  };
}

/** A model built by createModel knows its arch: the checkpoint records it when the caller's info does not. */
function archOf(model: Module): ResNetArch | undefined {
  return (model as { config?: { arch?: ResNetArch } }).config?.arch;
}

function withArch(model: Module, info: CheckpointInfo): CheckpointInfo {
  const arch = info.arch ?? archOf(model);
  return arch === undefined ? info : { ...info, arch };
}

/** A checkpoint of the other ResNet form would fail on its stem's shapes: say what differs instead. */
function checkArch(model: Module, info: CheckpointInfo, source: string): void {
  const arch = archOf(model);
  if (arch !== undefined && info.arch !== undefined && arch !== info.arch) {
    throw new CheckpointError(`onelayer: ${source}: the checkpoint holds the ${info.arch} form of ${info.model} (arch '${info.arch}'), the model here is the ${arch} form: build it with arch '${info.arch}' (--arch ${info.arch})`);
  }
}

/** The model's state (parameters + BN running statistics) as a safetensors file PyTorch can open. */
export async function modelCheckpoint(model: Module, info: CheckpointInfo): Promise<Uint8Array> {
  const tensors = await readAll(model.stateDict());
  assertFinite(tensors, 'onelayer: model checkpoint', 'model');
  return encodeSafetensors(tensors, toMetadata(withArch(model, info)));
}

function momentumTensors(model: Module, optimizer: SGD, prefix: string): [string, Tensor][] {
  const names = new Map(model.namedParameters().map(([n, p]) => [p, n] as const));
  const named: [string, Tensor][] = [];
  optimizer.params.forEach((p, i) => {
    const buf = optimizer.momentumBuffers[i];
    if (buf) named.push([`${prefix}${names.get(p) ?? i}`, buf]);
  });
  return named;
}

/**
 * The model and its optimizer's momentum (optimizer.momentum.<param>) in one file, without run state: what the page
 * downloads mid-run, so that Load + Start continues with the same momentum. modelFromCheckpoint reads it back.
 */
export async function modelWithMomentumCheckpoint(model: Module, optimizer: SGD, info: CheckpointInfo): Promise<Uint8Array> {
  const tensors = await readModelAndMomentum(model, optimizer);
  assertFinite(tensors, 'onelayer: checkpoint', 'training');
  return encodeSafetensors(tensors, toMetadata(withArch(model, info)));
}

/** The model's state_dict and its optimizer's momentum (optimizer.momentum.<param>), read back in one pass. */
function readModelAndMomentum(model: Module, optimizer: SGD): Promise<NamedTensorData[]> {
  return readAll([...model.stateDict(), ...momentumTensors(model, optimizer, MOMENTUM_PREFIX)]);
}

/** SGD momentum buffers, named after their parameters (the browser demo's optimizer file). */
export async function optimizerCheckpoint(model: Module, optimizer: SGD, info: CheckpointInfo): Promise<Uint8Array> {
  const tensors = await readAll(momentumTensors(model, optimizer, 'momentum.'));
  assertFinite(tensors, 'onelayer: optimizer checkpoint', 'momentum');
  return encodeSafetensors(tensors, toMetadata(withArch(model, info)));
}

/** Loads a model checkpoint (validated in full first, finite values included: the model is untouched on any problem). */
export function loadModelCheckpoint(model: Module, bytes: Uint8Array, source: string): CheckpointInfo {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  const info = parseInfo(metadata, source);
  assertFinite(tensors, source, 'model');
  checkArch(model, info, source);
  loadState(model, tensors, source);
  return info;
}

/** Loads state-dict tensors into a model; a mismatch is a CheckpointError naming the file. */
export function loadState(model: Module, tensors: NamedTensorData[], source: string): void {
  try {
    model.loadStateDict(tensors);
  } catch (e) {
    throw new CheckpointError(`${source}: ${(e as Error).message.replace(/^onelayer: /, '')}`);
  }
}

/** Throws unless every `prefix*` tensor names a parameter of the model and has its size (nothing is written). */
export function checkMomentum(model: Module, byName: Map<string, NamedTensorData>, prefix: string, source: string): void {
  const sizes = new Map(model.namedParameters().map(([n, p]) => [`${prefix}${n}`, p.size] as const));
  for (const [name, t] of byName) {
    if (!name.startsWith(prefix)) continue;
    const size = sizes.get(name);
    if (size === undefined) throw new CheckpointError(`onelayer: ${source}: ${name} belongs to no parameter of the model`);
    if (t.data.length !== size) throw new CheckpointError(`onelayer: ${source}: ${name} has ${t.data.length} values, the parameter has ${size}`);
  }
}

/** Sets the optimizer's momentum buffers from checked `prefix*` tensors. */
export function applyMomentum(model: Module, optimizer: SGD, byName: Map<string, NamedTensorData>, prefix: string): void {
  const index = new Map(optimizer.params.map((p, i) => [p, i] as const));
  for (const [name, p] of model.namedParameters()) {
    const t = byName.get(`${prefix}${name}`);
    const i = index.get(p);
    if (!t || i === undefined) continue;
    optimizer.momentumBuffers[i]?.dispose();
    optimizer.momentumBuffers[i] = tensor(t.data, p.shape);
  }
}

/** Loads momentum buffers written by optimizerCheckpoint (validated first). */
export function loadOptimizerCheckpoint(model: Module, optimizer: SGD, bytes: Uint8Array, source: string): CheckpointInfo {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  assertFinite(tensors, source, 'momentum');
  const byName = new Map(tensors.map((t) => [t.name, t]));
  checkMomentum(model, byName, 'momentum.', source);
  applyMomentum(model, optimizer, byName, 'momentum.');
  return parseInfo(metadata, source);
}

/**
 * One epoch's files from one readback: the training checkpoint (model + momentum + run state, refused when any
 * value is not finite) and model.safetensors, byte for byte what modelFileFromCheckpoint gives (the kill tests compare).
 */
export async function trainingCheckpointFiles(model: Module, optimizer: SGD, info: CheckpointInfo, state: RunState): Promise<{ checkpoint: Uint8Array; model: Uint8Array }> {
  const tensors = await readModelAndMomentum(model, optimizer);
  assertFinite(tensors, `onelayer: training stopped after epoch ${info.epoch}: the checkpoint`, 'training');
  const full = withArch(model, info);
  const meta = toMetadata(full);
  meta.run = JSON.stringify(state);
  // The model file is the checkpoint without momentum and run state: the same bytes modelFileFromCheckpoint gives.
  return { checkpoint: encodeSafetensors(tensors, meta), model: encodeSafetensors(tensors.filter((t) => !t.name.startsWith(MOMENTUM_PREFIX)), toMetadata(full)) };
}

/** model.safetensors of a training checkpoint: its model tensors and model metadata, without momentum and run state. */
export function modelFileFromCheckpoint(bytes: Uint8Array, source: string): Uint8Array {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  const { run: _run, ...modelMeta } = metadata;
  return encodeSafetensors(tensors.filter((t) => !t.name.startsWith(MOMENTUM_PREFIX)), modelMeta);
}

/**
 * What a training checkpoint says, from its header alone (no tensor is read or sized): the model description,
 * the run state. Everything is validated; errors name the file and the field.
 */
export function readTrainingCheckpointHeader(bytes: Uint8Array, source: string): { info: CheckpointInfo; state: RunState } {
  const { metadata } = readSafetensorsHeader(bytes, source);
  const info = parseInfo(metadata, source);
  if (metadata.run === undefined) throw new CheckpointError(`onelayer: ${source}: no run state in the metadata (is this a model file rather than a training checkpoint?)`);
  let state: RunState;
  try {
    state = JSON.parse(metadata.run) as RunState;
  } catch (e) {
    throw new CheckpointError(`onelayer: ${source}: metadata 'run' is not valid JSON (${(e as Error).message})`);
  }
  const bad = (what: string): never => {
    throw new CheckpointError(`onelayer: ${source}: metadata 'run' ${what}`);
  };
  if (typeof state !== 'object' || state === null) bad('is not an object');
  if (typeof state.config !== 'object' || state.config === null) bad('has no config');
  if (!Array.isArray(state.metrics)) bad('has no metrics list');
  // The rows are the last epochs up to info.epoch: all of them for a CLI run; a run continued from a plain model
  // file (the page's Load) knows only the epochs trained since.
  if (state.metrics.length > info.epoch) bad(`has ${state.metrics.length} metrics rows for ${info.epoch} completed epochs`);
  const first = info.epoch - state.metrics.length + 1;
  state.metrics.forEach((row, i) => {
    if (typeof row !== 'object' || row === null || row.epoch !== first + i) bad(`metrics row ${i} is not epoch ${first + i}`);
  });
  if (!Number.isSafeInteger(state.optimizerSteps) || state.optimizerSteps < 0) bad(`optimizerSteps ${JSON.stringify(state.optimizerSteps)} is not a non-negative integer`);
  if (state.lossScaler !== undefined) {
    const s = state.lossScaler as unknown as Record<string, unknown>;
    const numbers = ['scale', 'growthFactor', 'backoffFactor', 'growthInterval'];
    if (typeof s !== 'object' || s === null || numbers.some((k) => typeof s[k] !== 'number' || !Number.isFinite(s[k] as number) || (s[k] as number) <= 0)) {
      bad(`lossScaler ${JSON.stringify(state.lossScaler)} is not a loss scaler state (positive scale, growthFactor, backoffFactor, growthInterval)`);
    }
  }
  return { info, state };
}

/** Loads a training checkpoint into a model and its optimizer (both untouched when anything is wrong). */
export function loadTrainingCheckpoint(model: Module, optimizer: SGD, bytes: Uint8Array, source: string): { info: CheckpointInfo; state: RunState } {
  const header = readTrainingCheckpointHeader(bytes, source);
  const { tensors } = decodeSafetensors(bytes, source);
  assertFinite(tensors, source, 'training');
  checkArch(model, header.info, source);
  const weights = tensors.filter((t) => !t.name.startsWith(MOMENTUM_PREFIX));
  const momentum = new Map(tensors.filter((t) => t.name.startsWith(MOMENTUM_PREFIX)).map((t) => [t.name, t]));
  // The momentum is checked against the model before the weights are written: on any problem nothing changes.
  checkMomentum(model, momentum, MOMENTUM_PREFIX, source);
  loadState(model, weights, source);
  applyMomentum(model, optimizer, momentum, MOMENTUM_PREFIX);
  optimizer.restoreSteps(header.state.optimizerSteps);
  if (header.state.lossScaler && optimizer.scaler) optimizer.scaler.loadStateDict(header.state.lossScaler);
  return header;
}
