import { beforeAll, describe, expect, it } from 'vitest';
import { CaptureError, SGD, Tensor, compileStep, createModel, crossEntropy, linear, memoryStats, relu, runtime, tensor, tidy, type Model } from '../src/index.js';
import { gpu } from './setup.js';

beforeAll(async () => {
  await gpu();
});

/** MNIST-like random batches: seeded images in [0, 1) and labels in 0..9. */
function batch(seed: number, n: number, c = 1, side = 32): { images: Float32Array; labels: Int32Array } {
  let s = seed * 2654435761 + 1;
  const next = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const images = Float32Array.from({ length: n * c * side * side }, next);
  const labels = Int32Array.from({ length: n }, () => Math.floor(next() * 10));
  return { images, labels };
}

async function snapshot(model: Model, opt: SGD): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const [, t] of model.namedParameters()) out.push(await t.toArray());
  for (const b of opt.momentumBuffers) if (b) out.push(await b.toArray());
  return out;
}

function expectBitIdentical(a: Float32Array[], b: Float32Array[]): void {
  expect(a.length).toBe(b.length);
  a.forEach((x, i) => {
    expect(x.length).toBe(b[i].length);
    expect(Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(b[i].buffer, b[i].byteOffset, b[i].byteLength)), `tensor ${i}`).toBe(true);
  });
}

/** Trains `steps` steps eagerly or through compileStep from the same initial weights; returns losses and state. */
async function train(name: string, width: number, compiled: boolean, steps: number, n = 2, lrAt?: (step: number) => number) {
  const model = createModel(name, { width, numClasses: 10, inChannels: 1, seed: 3 });
  model.train();
  const opt = new SGD(model.parameters(), { lr: 0.02, momentum: 0.9, weightDecay: 5e-4, nesterov: true });
  const body = (x: Tensor, labels: Int32Array) => {
    const loss = crossEntropy(model.forward(x), labels);
    void loss.backward();
    opt.step();
    opt.zeroGrad();
    return loss;
  };
  const step = compileStep(body, { name: `${name}-test` });
  const losses: number[] = [];
  const dispatches: number[] = [];
  for (let i = 0; i < steps; i++) {
    if (lrAt) opt.lr = lrAt(i);
    const { images, labels } = batch(i, n);
    const before = runtime().dispatchCount;
    const loss = tidy(() => {
      const x = tensor(images, [n, 1, 32, 32]);
      return compiled ? step(x, labels) : body(x, labels);
    });
    dispatches.push(runtime().dispatchCount - before);
    losses.push(await loss.item());
    if (!compiled) loss.dispose();
  }
  const state = await snapshot(model, opt);
  step.dispose();
  opt.dispose();
  model.dispose();
  return { losses, state, dispatches };
}

describe('compileStep: replay is bit-identical to eager', () => {
  for (const [name, width] of [['s-vgg16', 16], ['sl-resnet50', 16]] as const) {
    it(`${name} n=${width}: 20 steps eager vs compiled`, async () => {
      const eager = await train(name, width, false, 20);
      const compiled = await train(name, width, true, 20);
      expect(compiled.losses).toEqual(eager.losses);
      expect(compiled.losses.every(Number.isFinite)).toBe(true);
      expectBitIdentical(compiled.state, eager.state);
      // Every replay encodes exactly the eager step's dispatches.
      expect(new Set(compiled.dispatches.slice(1))).toEqual(new Set([eager.dispatches[1]]));
    });
  }

  it('an eager step has one SGD dispatch and two per BatchNorm (batch 2, 32×32): the per-entry breakdown', async () => {
    const { dispatchedEntries } = await import('./setup.js');
    for (const [name, width, bns] of [['s-vgg16', 16, 13], ['sl-resnet50', 16, 48]] as const) {
      const model = createModel(name, { width, numClasses: 10, inChannels: 3, seed: 1 });
      model.train();
      const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4, nesterov: true });
      const x = tensor(batch(1, 2, 3).images, [2, 3, 32, 32]);
      const step = () => tidy(() => {
        const loss = crossEntropy(model.forward(x), batch(1, 2, 3).labels);
        void loss.backward();
        opt.step();
        opt.zeroGrad();
        return loss;
      });
      await step().item(); // the first step creates gradients and momentum
      const before = runtime().dispatchCount;
      const entries = await dispatchedEntries(async () => void (await step().item()));
      expect(runtime().dispatchCount - before).toBe(entries.length);
      const count = (e: string) => entries.filter((k) => k === e).length;
      const counts = Object.entries(Object.fromEntries(entries.map((e) => [e, count(e)]))).sort((a, b) => b[1] - a[1]);
      console.log(`${name} n=${width}: ${entries.length} dispatches per eager step: ${counts.map(([e, n]) => `${n} ${e}`).join(', ')}`);
      expect(count('sgd.step')).toBe(1);
      expect(entries.filter((e) => e.startsWith('batchnorm.')).length).toBe(2 * bns);
      expect(count('batchnorm.forward_channel')).toBe(bns);
      if (name === 'sl-resnet50') expect([count('elementwise.add'), count('elementwise.relu'), count('elementwise.add_relu')]).toEqual([0, 0, 16]);
      opt.dispose();
      model.dispose();
      x.dispose();
    }
  });

  it('a learning-rate schedule changes between replays and takes effect', async () => {
    const lrAt = (i: number) => (i < 3 ? 0.05 : i < 6 ? 0.01 : 0);
    const eager = await train('s-vgg16', 4, false, 8, 2, lrAt);
    const compiled = await train('s-vgg16', 4, true, 8, 2, lrAt);
    expect(compiled.losses).toEqual(eager.losses);
    expectBitIdentical(compiled.state, eager.state);
    // lr 0 from step 6 on: the weights stop moving, so steps 6 and 7 see the same model (different batches).
    const frozen = await train('s-vgg16', 4, true, 7, 2, lrAt);
    expectBitIdentical(frozen.state.slice(0, 5), compiled.state.slice(0, 5));
  });
});

/**
 * A 10×3 linear classifier trained with `options` for `steps` steps, eagerly or through compileStep; `beforeCompile`
 * runs once the weight, optimizer and step body exist and before the step is compiled. Returns the losses and the
 * final weight (and momentum, when there is one).
 */
async function linearRun(
  options: ConstructorParameters<typeof SGD>[1],
  compiled: boolean,
  steps: number,
  beforeCompile?: (w: Tensor, opt: SGD, body: (x: Tensor, labels: Int32Array) => Tensor) => void,
): Promise<{ losses: number[]; out: Float32Array[] }> {
  const w = tensor(Float32Array.from({ length: 30 }, (_, i) => Math.sin(i)), [10, 3], { requiresGrad: true });
  const opt = new SGD([w], options);
  const body = (x: Tensor, labels: Int32Array) => {
    const loss = crossEntropy(relu(linear(x, w)), labels);
    void loss.backward();
    opt.step();
    opt.zeroGrad();
    return loss;
  };
  beforeCompile?.(w, opt, body);
  const step = compileStep(body);
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const x = tensor(Float32Array.from({ length: 12 }, (_, j) => Math.cos(i * 12 + j)), [4, 3]);
    const labels = Int32Array.from([i % 10, (i + 3) % 10, 7, 1]);
    losses.push(await (compiled ? step(x, labels) : tidy(() => body(x, labels))).item());
    x.dispose();
  }
  const out = [await w.toArray(), ...(opt.momentumBuffers[0] ? [await opt.momentumBuffers[0].toArray()] : [])];
  step.dispose();
  opt.dispose();
  w.dispose();
  return { losses, out };
}

describe('compileStep: SGD variants', () => {
  // Plain SGD (no momentum buffer) and dampening ≠ 0 (the first-step flag lives in SGD's per-step state buffer).
  for (const options of [{ lr: 0.1 }, { lr: 0.05, momentum: 0.8, dampening: 0.3, weightDecay: 1e-3 }]) {
    it(`${JSON.stringify(options)}: 6 steps eager vs compiled`, async () => {
      const eager = await linearRun(options, false, 6);
      const compiled = await linearRun(options, true, 6);
      expect(compiled.losses).toEqual(eager.losses);
      expectBitIdentical(compiled.out, eager.out);
    });
  }
});

describe('compileStep: variants, outputs and refusals', () => {
  it('a new batch shape records a second variant; old variants replay again', async () => {
    const model = createModel('s-vgg16', { width: 4, numClasses: 10, inChannels: 1, seed: 1 });
    const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
    const step = compileStep((x: Tensor, labels: Int32Array) => {
      const loss = crossEntropy(model.forward(x), labels);
      void loss.backward();
      opt.step();
      opt.zeroGrad();
      return { loss };
    });
    const run = (n: number, seed: number) => {
      const { images, labels } = batch(seed, n);
      return tidy(() => step(tensor(images, [n, 1, 32, 32]), labels)).loss.item();
    };
    await run(2, 0);
    expect(step.variants).toBe(1);
    await run(2, 1);
    expect(step.variants).toBe(1);
    expect(Number.isFinite(await run(3, 2))).toBe(true);
    expect(step.variants).toBe(2);
    expect(Number.isFinite(await run(2, 3))).toBe(true);
    expect(step.variants).toBe(2);
    // A replay takes nothing from the pool: its buffers were planned when it was recorded.
    const { images, labels } = batch(4, 2);
    const x = tensor(images, [2, 1, 32, 32]);
    const pool = runtime().pool;
    let acquired = 0;
    pool.onAcquire = () => acquired++;
    const before = memoryStats();
    const loss = step(x, labels).loss;
    pool.onAcquire = null;
    expect(acquired).toBe(0);
    expect(memoryStats().liveBytes).toBe(before.liveBytes);
    expect(Number.isFinite(await loss.item())).toBe(true);
    x.dispose();
    expect(opt.steps).toBe(5);
    step.dispose();
    opt.dispose();
    model.dispose();
  });

  it('a returned tensor used after the next call is a clear error naming the step', async () => {
    const w = tensor([1, -2, 3, -4], [4]);
    const step = compileStep((x: Tensor) => relu(x), { name: 'relu-step' });
    const a = step(tensor([1, 2, 3, 4], [4]));
    expect(Array.from(await a.toArray())).toEqual([1, 2, 3, 4]);
    const b = step(w);
    await expect(a.toArray()).rejects.toThrow(/compiled step 'relu-step'.*called again/);
    expect(() => relu(a)).toThrow(/disposed|relu-step/);
    expect(Array.from(await b.toArray())).toEqual([1, 0, 3, 0]);
    const c = step(tensor([-1, 5, -1, 5], [4]));
    await expect(b.toArray()).rejects.toThrow(/relu-step/);
    expect(Array.from(await c.toArray())).toEqual([0, 5, 0, 5]);
    step.dispose();
    await expect(c.toArray()).rejects.toThrow(/relu-step/);
  });

  it('a readback inside the step is an error at record time naming the op; so is a non-argument upload', () => {
    const before = memoryStats().liveBytes;
    const reads = compileStep((x: Tensor) => {
      const y = relu(x);
      void y.toArray();
      return y;
    });
    expect(() => reads(tensor([1, 2], [2]))).toThrow(CaptureError);
    expect(() => reads(tensor([1, 2], [2]))).toThrow(/op 'toArray' reads GPU data back/);
    const uploads = compileStep((x: Tensor) => relu(tensor([1, 2], [2])).detach() && relu(x), { name: 'uploads' });
    expect(() => uploads(tensor([1, 2], [2]))).toThrow(/compileStep 'uploads': op 'tensor' uploads CPU data that is not an argument/);
    expect(runtime().capture).toBe(null);
    expect(memoryStats().liveBytes).toBeLessThanOrEqual(before + 4096);
  });
});

describe('Trainer: compile on and off', () => {
  it('gives bit-identical epochs (cosine schedule with warm-up through the per-step lr buffer)', async () => {
    const { Trainer } = await import('../src/train/trainer.js');
    const { loadMnist } = await import('../src/data/index.js');
    const mnist = await loadMnist();
    const run = async (compile: boolean) => {
      const model = createModel('s-vgg16', { width: 4, numClasses: 10, inChannels: 1, seed: 2 });
      const trainer = new Trainer(model, mnist, { epochs: 2, batchSize: 4, lr: 0.05, momentum: 0.9, weightDecay: 5e-4, nesterov: true, schedule: 'cosine', warmupSteps: 3, seed: 0, maxStepsPerEpoch: 6, compile });
      const lrs: number[] = [];
      const losses: number[] = [];
      for (let e = 0; e < 2; e++) {
        const r = await trainer.trainEpoch((p) => lrs.push(p.lr));
        losses.push(r.loss, r.accuracy);
      }
      const state = await snapshot(model, trainer.optimizer);
      trainer.dispose();
      trainer.optimizer.dispose();
      model.dispose();
      return { losses, lrs, state };
    };
    const eager = await run(false);
    const compiled = await run(true);
    expect(new Set(eager.lrs).size).toBeGreaterThan(6);
    expect(compiled.lrs).toEqual(eager.lrs);
    expect(compiled.losses).toEqual(eager.losses);
    expectBitIdentical(compiled.state, eager.state);
  });
});

describe('compileStep: the multi-tensor SGD', () => {
  it('gradients made outside the optimizer arena are moved in once; a recording that moved them is not replayed', async () => {
    const options = { lr: 0.1, momentum: 0.9, dampening: 0.1 };
    const beforeCompile = (w: Tensor, opt: SGD, body: (x: Tensor, labels: Int32Array) => Tensor) => {
      // Eager steps first: the flags and state exist before the step is compiled, so only the moves mark state.
      for (let i = 0; i < 2; i++) tidy(() => body(tensor(Float32Array.from({ length: 12 }, (_, j) => Math.cos(j + i)), [4, 3]), Int32Array.from([1, 2, 3, 4])));
      // A disposed gradient, made again by a backward outside the step: the first compiled call's step() moves it
      // into the arena (a copy from a buffer it then frees), which a replay must not repeat.
      w.grad!.dispose();
      w.grad = null;
      tidy(() => void crossEntropy(relu(linear(tensor(new Float32Array(12).fill(0.5), [4, 3]), w)), Int32Array.from([0, 1, 2, 3])).backward());
      opt.zeroGrad();
    };
    const eager = await linearRun(options, false, 5, beforeCompile);
    const compiled = await linearRun(options, true, 5, beforeCompile);
    expect(compiled.out).toHaveLength(2); // weight and momentum
    expect(compiled.losses).toEqual(eager.losses);
    expectBitIdentical(compiled.out, eager.out);
  });
});
