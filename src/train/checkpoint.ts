import { encodeSafetensors, decodeSafetensors, type NamedTensorData } from '../io/safetensors.js';
import type { Module } from '../nn/module.js';
import type { SGD } from '../optim/sgd.js';
import { tensor, type Tensor } from '../tensor/tensor.js';
import { runtime } from '../device/index.js';

/** What a checkpoint says about the model it holds (safetensors __metadata__, all strings there). */
export interface CheckpointInfo {
  model: string;
  width: number | null;
  numClasses: number;
  inChannels: number;
  inputSize: number;
  stem: string;
  dataset: string;
  epoch: number;
  globalStep: number;
  testAccuracy?: number;
}

async function readAll(named: [string, Tensor][]): Promise<NamedTensorData[]> {
  runtime().flush();
  const out: NamedTensorData[] = [];
  for (const [name, t] of named) out.push({ name, shape: [...t.shape], data: await t.toArray() });
  return out;
}

function toMetadata(info: CheckpointInfo): Record<string, string> {
  const m: Record<string, string> = { format: 'pt', framework: 'onelayer' };
  for (const [k, v] of Object.entries(info)) if (v !== undefined && v !== null) m[k] = String(v);
  return m;
}

export function parseInfo(meta: Record<string, string>, source: string): CheckpointInfo {
  if (!meta.model) throw new Error(`onelayer: ${source}: not an onelayer checkpoint (no 'model' in the safetensors metadata)`);
  const num = (k: string, d: number) => (meta[k] !== undefined && meta[k] !== '' ? Number(meta[k]) : d);
  return {
    model: meta.model,
    width: meta.width && meta.width !== 'null' ? Number(meta.width) : null,
    numClasses: num('numClasses', 10),
    inChannels: num('inChannels', 3),
    inputSize: num('inputSize', 32),
    stem: meta.stem ?? 'pad',
    dataset: meta.dataset ?? '',
    epoch: num('epoch', 0),
    globalStep: num('globalStep', 0),
    testAccuracy: meta.testAccuracy !== undefined ? Number(meta.testAccuracy) : undefined,
  };
}

/** The model's state (parameters + BN running statistics) as a safetensors file PyTorch can open. */
export async function modelCheckpoint(model: Module, info: CheckpointInfo): Promise<Uint8Array> {
  return encodeSafetensors(await readAll(model.stateDict()), toMetadata(info));
}

/** SGD momentum buffers, named after their parameters, for --resume. */
export async function optimizerCheckpoint(model: Module, optimizer: SGD, info: CheckpointInfo): Promise<Uint8Array> {
  const names = new Map(model.namedParameters().map(([n, p]) => [p, n] as const));
  const named: [string, Tensor][] = [];
  optimizer.params.forEach((p, i) => {
    const buf = optimizer.momentumBuffers[i];
    if (buf) named.push([`momentum.${names.get(p) ?? i}`, buf]);
  });
  return encodeSafetensors(await readAll(named), toMetadata(info));
}

/** Loads a model checkpoint (validated in full first: the model is untouched on any mismatch). */
export function loadModelCheckpoint(model: Module, bytes: Uint8Array, source: string): CheckpointInfo {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  const info = parseInfo(metadata, source);
  model.loadStateDict(tensors);
  return info;
}

export function loadOptimizerCheckpoint(model: Module, optimizer: SGD, bytes: Uint8Array, source: string): CheckpointInfo {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const index = new Map(optimizer.params.map((p, i) => [p, i] as const));
  for (const [name, p] of model.namedParameters()) {
    const t = byName.get(`momentum.${name}`);
    if (!t) continue;
    if (t.data.length !== p.size) throw new Error(`onelayer: ${source}: momentum.${name} has ${t.data.length} values, parameter has ${p.size}`);
    const i = index.get(p)!;
    optimizer.momentumBuffers[i]?.dispose();
    optimizer.momentumBuffers[i] = tensor(t.data, p.shape);
  }
  return parseInfo(metadata, source);
}
