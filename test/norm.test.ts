import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normTuning } from '../src/ops/norm.js';
import { Random, add, batchNorm2d, batchNormRelu, memoryStats, tensor, tidy, type Tensor } from '../src/index.js';
import { gpu } from './setup.js';
import { type BNRefOptions, type Shape4, batchNormBackwardRef, batchNormRef, dot, maxErr, numericGrad } from './reference/norm_pool.js';

beforeAll(async () => {
  await gpu();
});

function randArray(n: number, seed: number, mean = 0, std = 1): Float32Array {
  const r = new Random(seed);
  return Float32Array.from({ length: n }, () => mean + std * r.normal());
}

function expectClose(got: ArrayLike<number>, ref: ArrayLike<number>, what: string): void {
  const { err, scale } = maxErr(got, ref);
  expect(err, `${what}: max abs error ${err} vs max |ref| ${scale}`).toBeLessThanOrEqual(1e-4 * Math.max(scale, 1e-6));
}

const size = (s: Shape4) => s[0] * s[1] * s[2] * s[3];

describe('batchNorm2d CPU reference vs finite differences (float64)', () => {
  const s: Shape4 = [2, 2, 2, 3];
  const x = randArray(size(s), 1);
  const dy = randArray(size(s), 2);
  const weight = [1.3, -0.7];
  const bias = [0.2, -0.4];
  const cases: [string, BNRefOptions][] = [
    ['training', { weight, bias }],
    ['eval', { weight, bias, training: false, runningMean: [0.1, -0.2], runningVar: [0.8, 1.5] }],
    ['training + relu', { weight, bias, relu: true }],
  ];
  for (const [name, o] of cases) {
    it(name, () => {
      const { dx, dw, db } = batchNormBackwardRef(x, s, dy, o);
      const loss = (xv: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>) => dot(batchNormRef(xv, s, { ...o, weight: w, bias: b }).y, dy);
      const fx = numericGrad((v) => loss(v, weight, bias), x);
      const fw = numericGrad((v) => loss(x, v, bias), weight);
      const fb = numericGrad((v) => loss(x, weight, v), bias);
      for (const [a, b, what] of [[dx, fx, 'dx'], [dw, fw, 'dw'], [db, fb, 'db']] as const) {
        const { err, scale } = maxErr(a, b);
        expect(err, what).toBeLessThan(1e-6 * Math.max(1, scale));
      }
    });
  }
});

interface GpuCase {
  shape: Shape4;
  training: boolean;
  affine?: boolean;
  running?: boolean;
  mean?: number;
  std?: number;
  momentum?: number;
  relu?: boolean;
}

/** Runs the op on the GPU with a seed gradient and compares output, running stats and all gradients. */
async function checkGpu(c: GpuCase, seed: number): Promise<void> {
  const n = size(c.shape);
  const C = c.shape[1];
  const xs = randArray(n, seed, c.mean ?? 0, c.std ?? 1);
  const dys = randArray(n, seed + 1);
  const ws = randArray(C, seed + 2, 1, 0.5);
  const bs = randArray(C, seed + 3, 0, 0.5);
  const rms = randArray(C, seed + 4, c.mean ?? 0, 0.3);
  const rvs = Float32Array.from(randArray(C, seed + 5), (v) => 0.5 + Math.abs(v));
  const affine = c.affine ?? true;
  const running = c.running ?? true;
  const x = tensor(xs, c.shape, { requiresGrad: true });
  const weight = affine ? tensor(ws, [C], { requiresGrad: true }) : null;
  const bias = affine ? tensor(bs, [C], { requiresGrad: true }) : null;
  const runningMean = running ? tensor(rms, [C]) : null;
  const runningVar = running ? tensor(rvs, [C]) : null;
  const fn = c.relu ? batchNormRelu : batchNorm2d;
  const y = fn(x, { weight, bias, runningMean, runningVar, training: c.training, momentum: c.momentum });
  const o: BNRefOptions = { weight: affine ? ws : null, bias: affine ? bs : null, runningMean: running ? rms : null, runningVar: running ? rvs : null, training: c.training, momentum: c.momentum, relu: c.relu };
  const ref = batchNormRef(xs, c.shape, o);
  const label = `${c.relu ? 'batchNormRelu' : 'batchNorm2d'} ${JSON.stringify(c)}`;
  expect(y.shape).toEqual(c.shape);
  expectClose(await y.toArray(), ref.y, `${label} y`);
  if (running) {
    if (c.training) {
      expectClose(await runningMean!.toArray(), ref.runningMean!, `${label} runningMean`);
      expectClose(await runningVar!.toArray(), ref.runningVar!, `${label} runningVar`);
    } else {
      expect(Array.from(await runningMean!.toArray())).toEqual(Array.from(rms));
      expect(Array.from(await runningVar!.toArray())).toEqual(Array.from(rvs));
    }
  }
  await y.backward(tensor(dys, c.shape));
  const g = batchNormBackwardRef(xs, c.shape, dys, o);
  expectClose(await x.grad!.toArray(), g.dx, `${label} dx`);
  if (affine) {
    expectClose(await weight!.grad!.toArray(), g.dw, `${label} dweight`);
    expectClose(await bias!.grad!.toArray(), g.db, `${label} dbias`);
  }
  for (const t of [x, weight, bias, runningMean, runningVar, y]) t?.dispose();
}

// Every GPU check runs on both kernel paths: the per-run kernels (three dispatches each way) and the per-channel
// ones (one workgroup per channel, one dispatch each way), forced through normTuning.
const PATHS: [string, number][] = [['per-run kernels', 0], ['per-channel kernels', Infinity]];
for (const [path, channelMax] of PATHS) {
describe(`batchNorm2d, ${path}`, () => {
  const saved = normTuning.channelMax;
  beforeAll(() => void (normTuning.channelMax = channelMax));
  afterAll(() => void (normTuning.channelMax = saved));
  describe('batchNorm2d on the GPU vs the CPU reference', () => {
    const shapes: Shape4[] = [[1, 3, 5, 7], [2, 5, 5, 7], [2, 6, 4, 4], [2, 3, 17, 19]];
    shapes.forEach((shape, k) => {
      it(`training ${JSON.stringify(shape)}`, async () => checkGpu({ shape, training: true }, 10 + k));
      it(`eval ${JSON.stringify(shape)}`, async () => checkGpu({ shape, training: false }, 20 + k));
    });
    it('training without affine parameters or running stats', async () => checkGpu({ shape: [2, 3, 5, 7], training: true, affine: false, running: false }, 31));
    it('momentum other than the default', async () => checkGpu({ shape: [2, 3, 3, 5], training: true, momentum: 0.3 }, 32));
    it('is numerically stable for inputs of mean ~100 and small spread', async () => {
      // E[x²] − E[x]² in float32 would lose the variance (1e-2) in the rounding of 1e4.
      await checkGpu({ shape: [4, 2, 16, 16], training: true, mean: 100, std: 0.1 }, 33);
      await checkGpu({ shape: [2, 3, 5, 7], training: true, mean: 100, std: 1 }, 34);
    });
    it('batch statistics are deterministic', async () => {
      const x = tensor(randArray(2 * 3 * 9 * 11, 35), [2, 3, 9, 11]);
      const a = await batchNorm2d(x, {}).toArray();
      const b = await batchNorm2d(x, {}).toArray();
      expect(Array.from(a)).toEqual(Array.from(b));
    });
    it('affine gradients only (x without grad), and one tensor as both weight and bias (its gradient: dw + db)', async () => {
      const s: Shape4 = [2, 3, 4, 6];
      const xs = randArray(size(s), 46);
      const dys = randArray(size(s), 47);
      const ws = randArray(3, 48, 1, 0.3);
      for (const training of [true, false]) {
        const rm = randArray(3, 49, 0, 0.3);
        const rv = Float32Array.from(randArray(3, 50), (v) => 0.5 + Math.abs(v));
        const o = { runningMean: training ? null : tensor(rm, [3]), runningVar: training ? null : tensor(rv, [3]), training };
        const ref = batchNormBackwardRef(xs, s, dys, { weight: ws, bias: ws, runningMean: training ? null : rm, runningVar: training ? null : rv, training });
        const x = tensor(xs, s);
        const weight = tensor(ws, [3], { requiresGrad: true });
        await batchNorm2d(x, { weight, ...o }).backward(tensor(dys, s));
        expectClose(await weight.grad!.toArray(), ref.dw, `training ${training}: dweight, x without grad`);
        weight.grad!.dispose();
        weight.grad = null;
        await batchNorm2d(x, { weight, bias: weight, ...o }).backward(tensor(dys, s));
        expectClose(await weight.grad!.toArray(), ref.dw.map((v, c) => v + ref.db[c]), `training ${training}: weight = bias`);
      }
    });
    it('gradients accumulate: x and weight used by two calls (training and eval) get the sums', async () => {
      const s: Shape4 = [2, 3, 5, 7];
      const xs = randArray(size(s), 40);
      const ws = randArray(3, 42, 1, 0.3);
      const rms = randArray(3, 44, 0, 0.3);
      const rvs = Float32Array.from(randArray(3, 45), (v) => 0.5 + Math.abs(v));
      const dys = randArray(size(s), 43);
      const weight = tensor(ws, [3], { requiresGrad: true });
      const x = tensor(xs, s, { requiresGrad: true });
      const evalOpts = { runningMean: tensor(rms, [3]), runningVar: tensor(rvs, [3]), training: false };
      const y = add(batchNorm2d(x, { weight }), batchNorm2d(x, { weight, ...evalOpts }));
      await y.backward(tensor(dys, s));
      const g1 = batchNormBackwardRef(xs, s, dys, { weight: ws });
      const g2 = batchNormBackwardRef(xs, s, dys, { weight: ws, runningMean: rms, runningVar: rvs, training: false });
      expectClose(await weight.grad!.toArray(), g1.dw.map((v, i) => v + g2.dw[i]), 'summed dweight');
      expectClose(await x.grad!.toArray(), g1.dx.map((v, i) => v + g2.dx[i]), 'summed dx');
    });
  });

  describe('batchNorm2d run decomposition (several runs per plane, short last run, scalar and vec4 forms)', () => {
    // H·W = 576 (vec4: 144 per plane, runs of 64 → 3 runs, the last short); H·W = 323 (scalar: 256 + 67).
    it('training, vec4 form, mean ~50', async () => checkGpu({ shape: [2, 3, 24, 24], training: true, mean: 50, std: 0.5 }, 70));
    it('training + relu, vec4 form', async () => checkGpu({ shape: [2, 3, 24, 24], training: true, relu: true }, 71));
    it('eval + relu, vec4 form', async () => checkGpu({ shape: [2, 3, 24, 24], training: false, relu: true }, 72));
    it('training + relu, scalar form', async () => checkGpu({ shape: [2, 2, 17, 19], training: true, relu: true }, 73));
  });

  describe('batchNorm2d memory', () => {
    it('forward + backward inside tidy leaves only the gradients and running stats', async () => {
      const s: Shape4 = [2, 3, 5, 7];
      const x = tensor(randArray(size(s), 60), s, { requiresGrad: true });
      const weight = tensor([1, 2, 3], [3], { requiresGrad: true });
      const runningMean = tensor([0, 0, 0], [3]);
      const runningVar = tensor([1, 1, 1], [3]);
      const before = memoryStats().liveBytes;
      for (const relu of [false, true]) {
        tidy(() => {
          const y = (relu ? batchNormRelu : batchNorm2d)(x, { weight, runningMean, runningVar });
          void y.backward(tensor(randArray(size(s), 61), s));
        });
        await x.grad!.toArray();
        x.grad!.dispose();
        x.grad = null;
        weight.grad!.dispose();
        weight.grad = null;
        expect(memoryStats().liveBytes).toBe(before);
      }
    });
  });

  describe('batchNormRelu (fused) vs the CPU reference', () => {
    it('training', async () => checkGpu({ shape: [2, 5, 5, 7], training: true, relu: true }, 50));
    it('eval', async () => checkGpu({ shape: [1, 3, 5, 7], training: false, relu: true }, 51));
  });
});
}

describe('batchNorm2d per-channel kernels: workgroup sizes (fewer, as many and more invocations than items)', () => {
  const saved = { ...normTuning };
  beforeAll(() => void (normTuning.channelMax = Infinity));
  afterAll(() => void Object.assign(normTuning, saved));
  for (const cwg of [1, 4, 256]) {
    it(`workgroup ${cwg}: training + relu, vec4 and scalar items; eval`, async () => {
      normTuning.channelWorkgroup = cwg;
      await checkGpu({ shape: [2, 3, 4, 4], training: true, relu: true }, 80 + cwg);
      await checkGpu({ shape: [2, 3, 5, 7], training: true }, 81 + cwg);
      await checkGpu({ shape: [3, 2, 1, 1], training: true, relu: true }, 82 + cwg);
      await checkGpu({ shape: [2, 3, 5, 7], training: false, relu: true }, 83 + cwg);
    });
  }
  it('one dispatch forward and one backward (training and eval), three each on the per-run path', async () => {
    const { dispatchedEntries } = await import('./setup.js');
    const x = tensor(randArray(2 * 3 * 4 * 4, 90), [2, 3, 4, 4], { requiresGrad: true });
    const weight = tensor([1, 2, 3], [3], { requiresGrad: true });
    const bias = tensor([0, 1, 0], [3], { requiresGrad: true });
    const runningMean = tensor([0, 0, 0], [3]);
    const runningVar = tensor([1, 1, 1], [3]);
    const seed = tensor(randArray(2 * 3 * 4 * 4, 91), [2, 3, 4, 4]);
    const run = (training: boolean) => dispatchedEntries(async () => {
      const y = batchNormRelu(x, { weight, bias, runningMean, runningVar, training });
      await y.backward(seed);
    });
    normTuning.channelWorkgroup = 0;
    expect(await run(true)).toEqual(['batchnorm.forward_channel', 'batchnorm.backward_channel']);
    expect(await run(false)).toEqual(['batchnorm.forward_channel', 'batchnorm.backward_channel']);
    normTuning.channelMax = 0;
    expect(await run(true)).toEqual(['batchnorm.stats_partial', 'batchnorm.stats_finalize_running', 'batchnorm.apply', 'batchnorm.grad_partial', 'batchnorm.grad_finalize_affine', 'batchnorm.grad_x_train']);
    normTuning.channelMax = Infinity;
  });
});

describe('batchNorm2d bad input', () => {
  const x = () => tensor(new Float32Array(2 * 3 * 4 * 5), [2, 3, 4, 5]);
  it('3-D input', () => {
    expect(() => batchNorm2d(tensor(new Float32Array(24), [2, 3, 4]), {})).toThrow(/batchNorm2d: x must be 4-D \[N, C, H, W\], got shape \[2, 3, 4\]/);
  });
  it('weight of the wrong size', () => {
    expect(() => batchNorm2d(x(), { weight: tensor([1, 1], [2]) })).toThrow(/batchNorm2d: weight must have shape \[3\] for x \[2, 3, 4, 5\] \(C = 3\), got \[2\]/);
  });
  it('bias of the wrong size', () => {
    expect(() => batchNorm2d(x(), { bias: tensor([1, 1, 1, 1], [4]) })).toThrow(/batchNorm2d: bias must have shape \[3\] for x \[2, 3, 4, 5\].*got \[4\]/);
  });
  it('eval mode without running statistics', () => {
    expect(() => batchNorm2d(x(), { training: false })).toThrow(/batchNorm2d: evaluation mode .* needs runningMean and runningVar of shape \[3\] for x \[2, 3, 4, 5\]/);
  });
  it('runningMean without runningVar', () => {
    expect(() => batchNorm2d(x(), { runningMean: tensor([0, 0, 0], [3]) })).toThrow(/batchNorm2d: runningMean and runningVar must be given together/);
  });
  it('one value per channel in training mode', () => {
    expect(() => batchNorm2d(tensor([1, 2, 3], [1, 3, 1, 1]), {})).toThrow(/batchNorm2d: training mode needs more than 1 value per channel, got x \[1, 3, 1, 1\]/);
  });
});

export type { Tensor };
