import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTraining } from '../src/train/run-node.js';
import { createModel } from '../src/models/index.js';
import { decodeSafetensors } from '../src/io/safetensors.js';
import type { TrainConfig } from '../src/train/types.js';
import { gpu } from './setup.js';

function config(out: string, over: Partial<TrainConfig> = {}): TrainConfig {
  return {
    model: 's-vgg16', width: 8, dataset: 'mnist', epochs: 1, batchSize: 16, lr: 0.05, momentum: 0.9, weightDecay: 5e-4,
    nesterov: false, schedule: 'cosine', seed: 1, out, resume: false, maxStepsPerEpoch: 4, maxEvalImages: 100, quiet: true, ...over,
  };
}

// Real training on the software adapter: minutes, not seconds.
describe('training', { timeout: 900_000 }, () => {
  it('a small S-VGG trained for a few hundred steps on MNIST clearly beats chance', async () => {
    await gpu();
    const out = mkdtempSync(join(tmpdir(), 'onelayer-train-'));
    const s = await runTraining(config(out, { width: 12, epochs: 1, batchSize: 32, maxStepsPerEpoch: 200, lr: 0.05, augment: false, maxEvalImages: 500, warmupSteps: 20 }));
    expect(s.status).toBe('completed');
    // Chance is 10%; this tiny shared model reaches ~50-70% after 200 steps.
    expect(s.testAccuracy).toBeGreaterThan(0.3);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    for (const k of ['testAccuracy', 'wallSeconds', 'imagesPerSecond', 'adapter', 'software']) expect(summary).toHaveProperty(k);
  });

  it('writes PyTorch-named safetensors checkpoints and metrics, and resumes', async () => {
    const out = mkdtempSync(join(tmpdir(), 'onelayer-resume-'));
    await runTraining(config(out, { model: 'sl-vgg16', epochs: 1 }));
    const { tensors, metadata } = decodeSafetensors(new Uint8Array(readFileSync(join(out, 'model.safetensors'))), 'model.safetensors');
    expect(metadata.model).toBe('sl-vgg16');
    expect(metadata.epoch).toBe('1');
    const model = createModel('sl-vgg16', { width: 8, numClasses: 10, inChannels: 1 });
    const expected = model.stateDict().map(([n, t]) => [n, [...t.shape]]);
    expect(tensors.map((t) => [t.name, t.shape]).sort()).toEqual(expected.sort());
    model.dispose();
    const resumed = await runTraining(config(out, { model: 'sl-vgg16', epochs: 2, resume: true }));
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.epoch)).toEqual([1, 2]);
    expect(resumed.epochs).toBe(2);
  });

  it('stops on a non-finite loss and keeps the last good checkpoint', async () => {
    const out = mkdtempSync(join(tmpdir(), 'onelayer-nan-'));
    await runTraining(config(out));
    const before = readFileSync(join(out, 'model.safetensors'));
    // An absurd learning rate overflows float32 within a few steps.
    await expect(runTraining(config(out, { epochs: 2, resume: true, lr: 1e38, schedule: 'constant' }))).rejects.toThrow(/loss became (NaN|-?Infinity)/);
    expect(readFileSync(join(out, 'model.safetensors')).equals(before)).toBe(true);
  });

  it('rejects bad input with clear errors', async () => {
    const out = mkdtempSync(join(tmpdir(), 'onelayer-bad-'));
    await expect(runTraining(config(out, { model: 'vgg17' }))).rejects.toThrow(/vgg17[\s\S]*s-vgg16/);
    await expect(runTraining(config(out, { width: 0 }))).rejects.toThrow(/width/);
    await expect(runTraining(config(out, { dataset: 'cifar10', dataPath: join(out, 'missing') }))).rejects.toThrow(/missing/);
    // A checkpoint of another width: resume refuses and lists the mismatches; nothing is overwritten.
    await runTraining(config(out, { width: 8 }));
    const good = readFileSync(join(out, 'model.safetensors'));
    await expect(runTraining(config(out, { width: 4, resume: true, epochs: 2 }))).rejects.toThrow(/shared|width|shape/i);
    expect(readFileSync(join(out, 'model.safetensors')).equals(good)).toBe(true);
    // A truncated checkpoint names the file.
    writeFileSync(join(out, 'model.safetensors'), good.subarray(0, 100));
    await expect(runTraining(config(out, { resume: true, epochs: 2 }))).rejects.toThrow(/model\.safetensors/);
    expect(existsSync(join(out, 'summary.json'))).toBe(true);
  });
});
