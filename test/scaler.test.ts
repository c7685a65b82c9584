// Dynamic loss scaling (src/optim/scaler.ts with SGD): unscale, skip on inf/NaN, back off, grow; on the GPU only.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LossScaler, SGD, Random, cast, compileStep, crossEntropy, hasF16, linear, mul, runtime, sum, tensor, tidy, type SGDOptions, type Tensor } from '../src/index.js';
import { sgdTuning } from '../src/optim/sgd.js';
import { gpu } from './setup.js';
import { SGDRef, relErr } from './reference/linear_loss.js';

// At the top level too, so that skipIf can ask the device whether it has f16.
await gpu();
beforeAll(async () => {
  await gpu();
});

afterEach(() => {
  sgdTuning.arenaFloats = 0;
});

const rng = new Random(77);
const randArr = (n: number) => Float32Array.from({ length: n }, () => rng.normal());

/** p.grad += g · seed through autograd: backward of Σ p ⊙ g seeded with the scaler's scale (or 1). */
function backwardWith(p: Tensor, g: Float32Array, scaler?: LossScaler): void {
  tidy(() => {
    void sum(mul(p, tensor(g, p.shape))).backward(scaler?.seed());
  });
}

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe('LossScaler with SGD', () => {
  it('a scaled backward plus unscale gives the same update as an unscaled one (bit for bit: the scale is 2^k)', async () => {
    const [n, d, k] = [12, 7, 4];
    const xv = randArr(n * d), wv = randArr(k * d), bv = randArr(k);
    const labels = Int32Array.from({ length: n }, (_, i) => i % k);
    const run = async (scaler: LossScaler | null) => {
      const w = tensor(wv, [k, d], { requiresGrad: true });
      const b = tensor(bv, [k], { requiresGrad: true });
      const opt = new SGD([w, b], { lr: 0.1, momentum: 0.9, weightDecay: 1e-3, scaler });
      const counts: number[] = [];
      for (let t = 0; t < 4; t++) {
        opt.zeroGrad();
        tidy(() => void crossEntropy(linear(tensor(xv, [n, d]), w, b), labels).backward(scaler?.seed()));
        const before = runtime().dispatchCount;
        opt.step();
        counts.push(runtime().dispatchCount - before);
      }
      const out = [await w.toArray(), await b.toArray(), await opt.momentumBuffers[0]!.toArray(), await w.grad!.toArray()];
      opt.dispose();
      return { out, counts };
    };
    const plain = await run(null);
    const scaler = new LossScaler();
    const scaled = await run(scaler);
    // Gradients (left unscaled after the step), weights and momentum: the same bits.
    plain.out.forEach((a, i) => expect(bits(scaled.out[i]), `tensor ${i}`).toEqual(bits(a)));
    expect(plain.counts).toEqual([1, 1, 1, 1]);
    expect(scaled.counts).toEqual([3, 3, 3, 3]); // unscale, step, scale update
    expect(await scaler.stats()).toEqual({ scale: 2 ** 16, skipped: 0, steps: 4 });
    scaler.dispose();
  });

  it('an inf or NaN gradient skips the step (params and momentum untouched, no non-finite flag), halves the scale; the next clean step updates', async () => {
    const options: SGDOptions = { lr: 0.05, momentum: 0.9 };
    const init = [randArr(30), randArr(5)];
    const params = init.map((v) => tensor(v, [v.length], { requiresGrad: true }));
    const scaler = new LossScaler({ initScale: 1024 });
    const opt = new SGD(params, { ...options, scaler });
    const refs = init.map((v) => new SGDRef(Float64Array.from(v), { ...options }));
    const step = async (bad: number | null) => {
      opt.zeroGrad();
      params.forEach((p, i) => {
        const g = randArr(p.size);
        if (bad !== null && i === 1) g[2] = bad; // only the second parameter's gradient is bad
        backwardWith(p, g, scaler);
        if (bad === null) refs[i].step(g);
      });
      opt.step();
    };
    await step(null);
    const before = [...(await Promise.all(params.map((p) => p.toArray()))), ...(await Promise.all(opt.momentumBuffers.map((b) => b!.toArray())))];
    await step(Infinity);
    const after = [...(await Promise.all(params.map((p) => p.toArray()))), ...(await Promise.all(opt.momentumBuffers.map((b) => b!.toArray())))];
    after.forEach((a, i) => expect(bits(a), `tensor ${i}`).toEqual(bits(before[i])));
    expect(await scaler.stats()).toEqual({ scale: 512, skipped: 1, steps: 2 });
    await step(NaN);
    expect(await scaler.stats()).toEqual({ scale: 256, skipped: 2, steps: 3 });
    // A finite gradient that overflows once scaled is skipped as well.
    opt.zeroGrad();
    backwardWith(params[0], new Float32Array(30).fill(3e37), scaler);
    opt.step();
    expect(await scaler.stats()).toEqual({ scale: 128, skipped: 3, steps: 4 });
    expect(Array.from(await opt.nonFiniteFlags.toArray())).toEqual([0, 0, 0, 0]);
    await step(null);
    await step(null);
    for (let i = 0; i < params.length; i++) expect(relErr(await params[i].toArray(), refs[i].param)).toBeLessThanOrEqual(1e-5);
    expect(await scaler.stats()).toEqual({ scale: 128, skipped: 3, steps: 6 });
    opt.dispose();
    scaler.dispose();
  });

  it('grows the scale after growthInterval clean steps in a row; a skip restarts the count', async () => {
    const p = tensor(randArr(8), [8], { requiresGrad: true });
    const scaler = new LossScaler({ initScale: 4, growthInterval: 3, growthFactor: 4, backoffFactor: 0.25 });
    const opt = new SGD([p], { lr: 0.01, scaler });
    const scales: number[] = [];
    for (const bad of [false, false, true, false, false, false, false, false, false]) {
      opt.zeroGrad();
      const g = randArr(8);
      if (bad) g[0] = Infinity;
      backwardWith(p, g, scaler);
      opt.step();
      scales.push((await scaler.stats()).scale);
    }
    expect(scales).toEqual([4, 4, 1, 1, 1, 4, 4, 4, 16]);
    const s = await scaler.stateDict();
    expect(s).toEqual({ scale: 16, growthFactor: 4, backoffFactor: 0.25, growthInterval: 3, growthTracker: 0, skipped: 1, steps: 9 });
    // The state dict restores into a fresh scaler (a checkpoint).
    const restored = new LossScaler();
    restored.loadStateDict(JSON.parse(JSON.stringify(s)) as typeof s);
    expect(await restored.stateDict()).toEqual(s);
    restored.dispose();
    opt.dispose();
    scaler.dispose();
  });

  it('several arenas: an inf in the last arena stops the update of every arena', async () => {
    sgdTuning.arenaFloats = 64; // one parameter per arena
    const init = [randArr(40), randArr(64), randArr(3)];
    const params = init.map((v) => tensor(v, [v.length], { requiresGrad: true }));
    const scaler = new LossScaler();
    const opt = new SGD(params, { lr: 0.1, momentum: 0.5, scaler });
    params.forEach((p, i) => {
      const g = randArr(p.size);
      if (i === 2) g[1] = -Infinity;
      backwardWith(p, g, scaler);
    });
    const before = runtime().dispatchCount;
    opt.step();
    expect(runtime().dispatchCount - before).toBe(2 * 3 + 1);
    for (let i = 0; i < params.length; i++) expect(bits(await params[i].toArray())).toEqual(bits(init[i]));
    for (const b of opt.momentumBuffers) expect(Array.from(await b!.toArray()).every((v) => v === 0)).toBe(true);
    expect(await scaler.stats()).toEqual({ scale: 2 ** 15, skipped: 1, steps: 1 });
    // And a clean step updates all three.
    opt.zeroGrad();
    const grads = params.map((p) => randArr(p.size));
    params.forEach((p, i) => backwardWith(p, grads[i], scaler));
    opt.step();
    for (let i = 0; i < params.length; i++) {
      const ref = new SGDRef(Float64Array.from(init[i]), { lr: 0.1, momentum: 0.5 });
      ref.step(grads[i]);
      expect(relErr(await params[i].toArray(), ref.param)).toBeLessThanOrEqual(1e-6);
    }
    opt.dispose();
    scaler.dispose();
  });

  it('a non-finite updated weight still raises its flag (the gradient was finite, so the step ran)', async () => {
    const p = tensor([3e38, 1], [2], { requiresGrad: true });
    const scaler = new LossScaler({ initScale: 1 });
    const opt = new SGD([p], { lr: 1, scaler });
    backwardWith(p, Float32Array.from([-3e38, 0]), scaler);
    opt.step();
    expect(Array.from(await opt.nonFiniteFlags.toArray())).toEqual([0, 1]);
    expect(await scaler.stats()).toEqual({ scale: 1, skipped: 0, steps: 1 });
    opt.dispose();
    scaler.dispose();
  });

  it('inside compileStep: replays read the scale of the moment (nothing baked) and match eager bit for bit', async () => {
    const n = 50;
    const init = randArr(n);
    const grads = [0, 1, 2, 3, 4, 5, 6, 7].map(() => randArr(n));
    grads[3][7] = Infinity; // a skipped step in the middle of the replays
    const run = async (compiled: boolean) => {
      const p = tensor(init, [n], { requiresGrad: true });
      const scaler = new LossScaler({ initScale: 2 ** 10, growthInterval: 2 });
      const opt = new SGD([p], { lr: 0.1, momentum: 0.9, scaler });
      const body = (g: Tensor) => {
        const loss = sum(mul(p, g));
        void loss.backward(scaler.seed());
        opt.step();
        opt.zeroGrad();
        return loss;
      };
      const step = compileStep(body, { name: 'scaler-test' });
      const scales: number[] = [];
      for (const g of grads) {
        tidy(() => {
          const gt = tensor(g, [n]);
          void (compiled ? step(gt) : body(gt));
        });
        scales.push((await scaler.stats()).scale);
      }
      const out = [await p.toArray(), await opt.momentumBuffers[0]!.toArray()];
      step.dispose();
      opt.dispose();
      scaler.dispose();
      return { out, scales };
    };
    const eager = await run(false);
    const compiled = await run(true);
    expect(eager.scales).toEqual([1024, 2048, 2048, 1024, 1024, 2048, 2048, 4096]);
    expect(compiled.scales).toEqual(eager.scales);
    compiled.out.forEach((a, i) => expect(bits(a), `tensor ${i}`).toEqual(bits(eager.out[i])));
    // And the update itself is right: 7 clean steps of torch's SGD.
    const ref = new SGDRef(Float64Array.from(init), { lr: 0.1, momentum: 0.9 });
    grads.filter((_, i) => i !== 3).forEach((g) => ref.step(g));
    expect(relErr(eager.out[0], ref.param)).toBeLessThanOrEqual(1e-5);
  });

  const noF16 = hasF16() ? '' : " (skipped: this adapter has no 'shader-f16')";
  it.skipIf(!hasF16())(`mixed precision: an f16 linear whose scaled gradient overflows f16 is skipped until the scale fits${noF16}`, async () => {
    const [n, d, k] = [8, 6, 3];
    const xv = randArr(n * d), wv = randArr(k * d);
    const labels = Int32Array.from({ length: n }, (_, i) => i % k);
    const w = tensor(wv, [k, d], { requiresGrad: true }); // the f32 master weight
    const b = tensor([0, 0, 0], [k], { requiresGrad: true });
    const scaler = new LossScaler({ initScale: 2 ** 24 }); // dy = (softmax − onehot) / 8 · 2^24: beyond f16's 65504
    const opt = new SGD([w, b], { lr: 0.5, scaler });
    const losses: number[] = [];
    for (let t = 0; t < 12; t++) {
      opt.zeroGrad();
      const loss = tidy(() => {
        const l = crossEntropy(linear(cast(tensor(xv, [n, d]), 'f16'), cast(w, 'f16'), b), labels);
        void l.backward(scaler.seed());
        return l;
      });
      losses.push(await loss.item());
      loss.dispose();
      opt.step();
    }
    const { scale, skipped, steps } = await scaler.stats();
    // Each skip halves the scale; from 2^19 down, |dy| ≤ 2^16 · (1 − p) fits.
    expect(skipped).toBeGreaterThanOrEqual(4);
    expect(skipped).toBeLessThanOrEqual(6);
    expect(scale).toBe(2 ** (24 - skipped));
    expect(steps).toBe(12);
    // The skipped steps left the loss alone; the clean ones trained.
    for (let t = 1; t <= skipped; t++) expect(losses[t]).toBe(losses[0]);
    expect(losses[11]).toBeLessThan(losses[0] * 0.7);
    expect(Array.from(await opt.nonFiniteFlags.toArray())).toEqual([0, 0, 0, 0]);
    opt.dispose();
    scaler.dispose();
  });

  it('rejects bad options and a scaler shared by two optimizers, naming LossScaler', () => {
    expect(() => new LossScaler({ initScale: 0 })).toThrow(/LossScaler: initScale \/ scale must be a finite number > 0, got 0/);
    expect(() => new LossScaler({ growthFactor: 1 })).toThrow(/LossScaler: growthFactor must be a number > 1/);
    expect(() => new LossScaler({ backoffFactor: 1 })).toThrow(/LossScaler: backoffFactor must be a number in \(0, 1\)/);
    expect(() => new LossScaler({ growthInterval: 2.5 })).toThrow(/LossScaler: growthInterval must be an integer/);
    const scaler = new LossScaler();
    const a = new SGD([tensor([1], [1], { requiresGrad: true })], { lr: 0.1, scaler });
    expect(() => new SGD([tensor([1], [1], { requiresGrad: true })], { lr: 0.1, scaler })).toThrow(/LossScaler: this scaler already serves another optimizer/);
    a.dispose();
    scaler.dispose();
    expect(() => scaler.seed()).toThrow(/LossScaler.seed: the scaler was disposed/);
  });
});
