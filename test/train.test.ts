import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTraining } from '../src/train/run-node.js';
import { createModel } from '../src/models/index.js';
import { decodeSafetensors, encodeSafetensors } from '../src/io/safetensors.js';
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
    expect(summary).toEqual(JSON.parse(JSON.stringify(s)));
    const rows = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rows).toHaveLength(1);
    expect(summary.testAccuracy).toBe(rows[0].testAccuracy);
    expect(summary.imagesPerSecond).toBeCloseTo(rows[0].imagesPerSecond, 6);
    expect(summary.wallSeconds).toBeGreaterThan(rows[0].seconds);
    expect(summary.software).toBe((await gpu()).info.software);
    expect(summary.config).toMatchObject({ model: 's-vgg16', width: 12, epochs: 1, batchSize: 32, maxStepsPerEpoch: 200, warmupSteps: 20, augment: false });
  });

  it('writes PyTorch-named safetensors checkpoints and metrics, and extends a constant-schedule run on --resume', async () => {
    const out = mkdtempSync(join(tmpdir(), 'onelayer-resume-'));
    await runTraining(config(out, { model: 'sl-vgg16', epochs: 1, schedule: 'constant' }));
    const { tensors, metadata } = decodeSafetensors(new Uint8Array(readFileSync(join(out, 'model.safetensors'))), 'model.safetensors');
    expect(metadata.model).toBe('sl-vgg16');
    expect(metadata.epoch).toBe('1');
    expect(metadata.globalStep).toBe('4');
    expect(metadata.run).toBeUndefined(); // the model file is a plain state_dict; run state lives in checkpoint.safetensors
    const model = createModel('sl-vgg16', { width: 8, numClasses: 10, inChannels: 1 });
    const expected = model.stateDict().map(([n, t]) => [n, [...t.shape]]);
    expect(tensors.map((t) => [t.name, t.shape]).sort()).toEqual(expected.sort());
    model.dispose();
    const ckpt = decodeSafetensors(readFileSync(join(out, 'checkpoint.safetensors')), 'checkpoint');
    const momentum = ckpt.tensors.filter((t) => t.name.startsWith('optimizer.momentum.'));
    expect(momentum.length).toBe(expected.filter(([n]) => !/running_/.test(n as string)).length);
    expect(momentum.some((t) => t.data.some((v) => v !== 0))).toBe(true);
    const resumed = await runTraining(config(out, { model: 'sl-vgg16', epochs: 2, schedule: 'constant', resume: true }));
    const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.epoch)).toEqual([1, 2]);
    expect(resumed.testAccuracy).toBe(lines[1].testAccuracy);
    expect(resumed.bestTestAccuracy).toBe(Math.max(lines[0].testAccuracy, lines[1].testAccuracy));
    expect(decodeSafetensors(readFileSync(join(out, 'model.safetensors')), 'm').metadata.globalStep).toBe('8');
    // A cosine run cannot be extended: every step's learning rate depends on the total.
    const cosine = mkdtempSync(join(tmpdir(), 'onelayer-cosine-'));
    await runTraining(config(cosine, { epochs: 1 }));
    await expect(runTraining(config(cosine, { epochs: 2, resume: true }))).rejects.toThrow(/--epochs 2.*depends on the total|schedule cosine/);
  });

  it('stops on a non-finite loss within a step, names the step, and keeps the last good checkpoint', async () => {
    const out = mkdtempSync(join(tmpdir(), 'onelayer-nan-'));
    // lr × 1e38 from epoch 2 on overflows float32 at once.
    const diverging = config(out, { epochs: 2, schedule: 'step', stepEpochs: 1, gamma: 1e38 });
    const err = await runTraining(diverging).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/epoch 2, step [12] .*(NaN|Infinity)/);
    const kept = decodeSafetensors(readFileSync(join(out, 'checkpoint.safetensors')), 'checkpoint');
    expect(kept.metadata.epoch).toBe('1');
    for (const t of kept.tensors) expect(t.data.every(Number.isFinite), t.name).toBe(true);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ status: 'failed', epochsCompleted: 1 });
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('catches a NaN gradient even when a fused ReLU keeps the loss finite, naming the tensor', async () => {
    const { Trainer } = await import('../src/train/trainer.js');
    const { loadMnist } = await import('../src/data/index.js');
    const model = createModel('s-vgg16', { width: 4, numClasses: 10, inChannels: 1, seed: 1 });
    const trainer = new Trainer(model, await loadMnist(), { epochs: 1, batchSize: 8, lr: 0.01, momentum: 0.9, weightDecay: 0, nesterov: false, schedule: 'constant', seed: 0, maxStepsPerEpoch: 3 });
    // One +Infinity in the classifier: the logits become ±Inf/NaN only for some rows, the gradient of the
    // weight certainly does. Whatever the loss shows, the step must stop, naming a tensor.
    const [name, weight] = model.namedParameters().find(([n]) => n.startsWith('classifier') && n.endsWith('weight'))!;
    const values = await weight.toArray();
    values[5] = Infinity;
    model.loadStateDict([{ name, shape: [...weight.shape], data: values }], { strict: false });
    await expect(trainer.trainEpoch()).rejects.toThrow(/step 1 .*(gradient of|weight) \S+/);
    model.dispose();
    trainer.optimizer.dispose();
  });

  it('rejects bad input with clear errors, and never touches a completed run', async () => {
    const out = mkdtempSync(join(tmpdir(), 'onelayer-bad-'));
    await expect(runTraining(config(out, { model: 'vgg17' }))).rejects.toThrow(/vgg17[\s\S]*s-vgg16/);
    await expect(runTraining(config(out, { width: 0 }))).rejects.toThrow(/width/);
    await expect(runTraining(config(out, { epochs: 0 }))).rejects.toThrow(/--epochs 0: expected an integer ≥ 1/);
    await expect(runTraining(config(out, { dataset: 'cifar10', dataPath: join(out, 'missing') }))).rejects.toThrow(/missing/);
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'))).toMatchObject({ status: 'failed', epochsCompleted: 0 });
    // A run that failed before its first checkpoint holds nothing to keep: the corrected command just runs.
    const retry = mkdtempSync(join(tmpdir(), 'onelayer-retry-'));
    await expect(runTraining(config(retry, { dataset: 'cifar10', dataPath: join(out, 'missing') }))).rejects.toThrow(/missing/);
    expect((await runTraining(config(retry))).status).toBe('completed');
    // Nothing to resume: an error naming the folder, and no folder is created.
    await expect(runTraining(config(join(out, 'never'), { resume: true }))).rejects.toThrow(/never has nothing to resume/);
    expect(existsSync(join(out, 'never'))).toBe(false);
    // A run folder below a file cannot be created: said before any training.
    writeFileSync(join(out, 'a-file'), 'x');
    await expect(runTraining(config(join(out, 'a-file', 'run')))).rejects.toThrow(/a-file\/run: cannot create the run folder \(.*a-file is a file, not a folder/);

    const run = join(out, 'run');
    await runTraining(config(run, { width: 8 }));
    const good = readFileSync(join(run, 'model.safetensors'));
    const goodCkpt = readFileSync(join(run, 'checkpoint.safetensors'));
    const goodSummary = readFileSync(join(run, 'summary.json'), 'utf8');
    const untouched = () => {
      expect(readFileSync(join(run, 'model.safetensors')).equals(good)).toBe(true);
      expect(readFileSync(join(run, 'summary.json'), 'utf8')).toBe(goodSummary);
    };
    // --out onto a finished run: refused, suggesting --resume or another folder.
    await expect(runTraining(config(run, { width: 8 }))).rejects.toThrow(/already holds a completed s-vgg16 run.*--resume.*--overwrite/);
    untouched();
    // Another width: the header check names it before any tensor is loaded.
    await expect(runTraining(config(run, { width: 12, resume: true }))).rejects.toThrow(/holds s-vgg16 \(width 8\), not s-vgg16 \(width 12\)/);
    untouched();
    // Other settings: the differing flag is named.
    await expect(runTraining(config(run, { width: 8, resume: true, lr: 0.1 }))).rejects.toThrow(/--lr 0\.1 \(the stored run has 0\.05\)/);
    untouched();
    // A failed resume (bad --data) leaves the completed run's files as they were.
    await expect(runTraining(config(run, { width: 8, resume: true, dataset: 'cifar10', dataPath: join(out, 'missing') }))).rejects.toThrow();
    untouched();
    // A truncated checkpoint names the file; a non-finite one names tensor and index.
    writeFileSync(join(run, 'checkpoint.safetensors'), goodCkpt.subarray(0, 100));
    await expect(runTraining(config(run, { width: 8, resume: true }))).rejects.toThrow(/checkpoint\.safetensors/);
    untouched();
    const { tensors, metadata } = decodeSafetensors(goodCkpt, 'checkpoint');
    const hit = tensors.find((t) => t.name === 'classifier.weight') ?? tensors[0];
    hit.data[7] = NaN;
    writeFileSync(join(run, 'checkpoint.safetensors'), encodeSafetensors(tensors, metadata));
    await expect(runTraining(config(run, { width: 8, resume: true }))).rejects.toThrow(new RegExp(`"${hit.name.replace(/\./g, '\\.')}" holds NaN at index 7`));
    untouched();
    // --overwrite replaces the run.
    const replaced = await runTraining(config(run, { width: 8, overwrite: true, seed: 2 }));
    expect(replaced.config.seed).toBe(2);
    expect(readFileSync(join(run, 'model.safetensors')).equals(good)).toBe(false);
  });
  it('the run loop: pause/resume mid-epoch and restore-from-checkpoint give the uninterrupted run bit for bit; the event stream has per-step values', async () => {
    await gpu();
    const { RunLoop, RunControl } = await import('../src/train/loop.js');
    const { modelFromCheckpoint } = await import('../src/train/restore.js');
    const { learningRate } = await import('../src/train/schedule.js');
    const { loadMnist } = await import('../src/data/index.js');
    type Ckpt = import('../src/train/loop.js').TrainingCheckpoint;
    type Ev = import('../src/train/loop.js').RunEvent;
    const dataset = await loadMnist();
    const cfg = { model: 's-vgg16', width: 4, dataset: 'mnist', epochs: 2, batchSize: 8, lr: 0.05, momentum: 0.9, weightDecay: 5e-4, nesterov: false, schedule: 'cosine', seed: 1, maxStepsPerEpoch: 4, maxEvalImages: 40 } as const;
    const tensorsOf = (c: Ckpt) => decodeSafetensors(c.checkpoint, 'checkpoint').tensors;
    const rowsOf = (c: Ckpt) => c.state.metrics.map(({ time: _t, seconds: _s, imagesPerSecond: _i, ...row }) => row);
    const expectSame = (got: Ckpt, want: Ckpt, label: string) => {
      const a = tensorsOf(got);
      const b = tensorsOf(want);
      expect(a.map((t) => t.name), label).toEqual(b.map((t) => t.name));
      a.forEach((t, i) => expect(t.data.findIndex((v, k) => !Object.is(v, b[i].data[k])), `${label}: ${t.name}`).toBe(-1));
      expect(rowsOf(got), label).toEqual(rowsOf(want));
      expect(got.info.globalStep).toBe(want.info.globalStep);
    };
    const train = async (over: { control?: InstanceType<typeof RunControl>; restored?: ReturnType<typeof modelFromCheckpoint>; onEvent?: (e: Ev) => void; compile?: boolean } = {}) => {
      const saved: Ckpt[] = [];
      const events: Ev[] = [];
      const { compile, ...rest } = over;
      const loop = new RunLoop({ config: { ...cfg, compile }, dataset, store: { save: async (c) => void saved.push(c) }, ...rest, onEvent: (e) => (events.push(e), over.onEvent?.(e)) });
      const reason = await loop.run();
      loop.dispose();
      return { saved, events, reason };
    };

    const ref = await train();
    expect(ref.reason).toBe('completed');
    expect(ref.saved.map((c) => [c.info.epoch, c.info.globalStep, c.state.metrics.length])).toEqual([[1, 4, 1], [2, 8, 2]]);
    // Every checkpoint holds the optimizer state.
    expect(tensorsOf(ref.saved[0]).filter((t) => t.name.startsWith('optimizer.momentum.')).length).toBeGreaterThan(0);
    const steps = ref.events.filter((e): e is Extract<Ev, { type: 'step' }> => e.type === 'step');
    expect(steps.map((e) => e.globalStep)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    for (const e of steps) {
      expect(Number.isFinite(e.loss) && e.accuracy >= 0 && e.accuracy <= 1).toBe(true);
      expect(e.lr).toBeCloseTo(learningRate(cfg, e.globalStep - 1, 8), 12);
      expect(e.imagesPerSecond === null).toBe(e.step === 1); // the first step of an epoch records and compiles: no throughput
    }
    const epochs = ref.events.filter((e): e is Extract<Ev, { type: 'epoch' }> => e.type === 'epoch');
    expect(epochs.map((e) => e.metrics)).toEqual(ref.saved[1].state.metrics);
    // The epoch's trainLoss is the mean of its steps' losses (equal batches).
    const mean = steps.slice(0, 4).reduce((s, e) => s + e.loss, 0) / 4;
    expect(epochs[0].metrics.trainLoss).toBeCloseTo(mean, 5);
    expect(ref.events.filter((e) => e.type === 'checkpoint')).toHaveLength(2);

    // Paused after the second step settles (the third is already submitted), resumed: the same run.
    const control = new RunControl();
    const paused = await train({
      control,
      onEvent: (e) => {
        if (e.type === 'step' && e.globalStep === 2) control.pause();
        if (e.type === 'paused') setTimeout(() => control.resume(), 20);
      },
    });
    const pause = paused.events.find((e) => e.type === 'paused');
    expect(pause).toMatchObject({ epoch: 0, epochStep: 3, globalStep: 3 });
    expect(paused.events.filter((e) => e.type === 'step').map((e) => (e as { globalStep: number }).globalStep)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expectSame(paused.saved[1], ref.saved[1], 'paused and resumed');

    // Restored from the epoch-1 checkpoint (weights, momentum, step count, metrics rows): the same run.
    const restored = modelFromCheckpoint(ref.saved[0].checkpoint, 'epoch-1 checkpoint');
    expect(restored.state?.metrics).toHaveLength(1);
    const resumed = await train({ restored });
    expect(resumed.events[0]).toMatchObject({ type: 'start', fresh: false, epoch: 1, globalStep: 4 });
    expect((resumed.events[0] as { momentumTensors: number }).momentumTensors).toBeGreaterThan(0);
    expectSame(resumed.saved[0], ref.saved[1], 'restored from the epoch-1 checkpoint');

    // compile: false (the eager step) trains the same run bit for bit.
    expectSame((await train({ compile: false })).saved[1], ref.saved[1], 'eager steps');

    // stop() ends the loop between two steps, 'stopped', with nothing committed for the unfinished epoch.
    const stopper = new RunControl();
    const stopped = await train({ control: stopper, onEvent: (e) => e.type === 'step' && e.globalStep === 1 && stopper.stop() });
    expect(stopped.reason).toBe('stopped');
    expect(stopped.saved).toHaveLength(0);
    expect(stopped.events.at(-1)).toMatchObject({ type: 'end', reason: 'stopped', epoch: 0 });
  });
});
