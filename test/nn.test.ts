import { describe, expect, it, beforeAll } from 'vitest';
import { Random, tensor, tidy, relu, memoryStats, type Tensor } from '../src/index.js';
import { Module, StateDictError, Conv2d, BatchNorm2d, Linear, Blend, ReLU, MaxPool2d, Sequential, ModuleList } from '../src/nn/index.js';
import { subsample2d } from '../src/models/index.js';
import { gpu } from './setup.js';

beforeAll(async () => {
  await gpu();
});

/** A module that registers ONE child at two places and references it from a third. */
class Twice extends Module {
  readonly a: Linear;
  readonly bn: BatchNorm2d;
  constructor() {
    super();
    const shared = new Linear(3, 3, { rng: new Random(1) });
    this.a = this.registerModule('a', shared);
    this.registerModule('b', shared);
    this.bn = this.registerModule('bn', new BatchNorm2d(2));
    this.registerModule('seq', new Sequential(new Linear(3, 2, { rng: new Random(2) }), new ReLU()));
  }
  forward(x: Tensor): Tensor {
    return x;
  }
}

const arr = async (t: Tensor) => Array.from(await t.toArray());

describe('Module', () => {
  it('names parameters with dotted paths and counts a shared child once', () => {
    const m = new Twice();
    const names = m.namedParameters().map(([n]) => n);
    expect(names).toEqual(['a.weight', 'a.bias', 'bn.weight', 'bn.bias', 'seq.0.weight', 'seq.0.bias']);
    expect(m.parameters().length).toBe(6);
    expect(m.numParameters()).toBe(9 + 3 + 2 + 2 + 6 + 2);
    expect(m.parameters()[0]).toBe(m.a.weight);
    expect(m.a.weight.name).toBe('a.weight');
    expect(m.parameters().every((p) => p.requiresGrad)).toBe(true);
    const state = m.stateDict().map(([n]) => n);
    expect(state).toEqual(['a.weight', 'a.bias', 'bn.weight', 'bn.bias', 'bn.running_mean', 'bn.running_var', 'seq.0.weight', 'seq.0.bias']);
    expect(m.namedBuffers().every(([, t]) => !t.requiresGrad)).toBe(true);
    m.dispose();
  });

  it('train()/eval() reach every descendant', () => {
    const m = new Twice();
    expect(m.bn.training).toBe(true);
    m.eval();
    expect(m.training).toBe(false);
    expect(m.bn.training).toBe(false);
    m.train();
    expect(m.bn.training).toBe(true);
    m.dispose();
  });

  it('rejects duplicate member names and dotted names', () => {
    const m = new Twice();
    expect(() => m.registerModule('a', new ReLU())).toThrow(/'a' is already registered/);
    expect(() => m.registerModule('x.y', new ReLU())).toThrow(/invalid member name 'x.y'/);
    m.dispose();
  });

  it('parameters survive tidy(); dispose() frees them', async () => {
    const before = memoryStats().liveBytes;
    const m = tidy(() => {
      const made = new Linear(4, 5);
      relu(tensor([1, 2], [2])); // an intermediate that tidy frees
      return made;
    });
    expect(m.weight.isDisposed).toBe(false);
    expect((await m.weight.toArray()).length).toBe(20);
    m.dispose();
    expect(m.weight.isDisposed).toBe(true);
    expect(memoryStats().liveBytes).toBe(before);
  });

  it('loadStateDict loads all values and round-trips through stateDict', async () => {
    const m = new Twice();
    const entries = m.stateDict().map(([name, t], k) => ({ name, shape: [...t.shape], data: new Float32Array(t.size).fill(k + 0.5) }));
    expect(m.loadStateDict(entries)).toEqual({ missing: [], unexpected: [] });
    expect(await arr(m.a.bias!)).toEqual([1.5, 1.5, 1.5]);
    expect(await arr(m.bn.runningVar)).toEqual([5.5, 5.5]);
    m.dispose();
  });

  it('loadStateDict lists every missing/unexpected name and shape mismatch and leaves the model untouched', async () => {
    const m = new Twice();
    const before = await arr(m.a.weight);
    const entries = m
      .stateDict()
      .filter(([n]) => n !== 'bn.running_mean' && n !== 'seq.0.bias')
      .map(([name, t]) => ({ name, shape: name === 'bn.weight' ? [3] : [...t.shape], data: new Float32Array(name === 'bn.weight' ? 3 : t.size).fill(9) }));
    entries.push({ name: 'extra.weight', shape: [1], data: new Float32Array(1) });
    let err: unknown;
    try {
      m.loadStateDict(entries);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StateDictError);
    const e = err as StateDictError;
    expect(e.missing).toEqual(['bn.running_mean', 'seq.0.bias']);
    expect(e.unexpected).toEqual(['extra.weight']);
    expect(e.mismatched).toEqual(['bn.weight']);
    expect(e.message).toMatch(/missing 2: bn.running_mean, seq.0.bias/);
    expect(e.message).toMatch(/unexpected 1: extra.weight/);
    expect(e.message).toMatch(/shape mismatch for 'bn.weight': checkpoint \[3\], model \[2\]/);
    expect(await arr(m.a.weight)).toEqual(before);
    // Not strict: names may be missing or extra, but shapes must still match.
    const ok = entries.filter((x) => x.name !== 'bn.weight');
    expect(m.loadStateDict(ok, { strict: false })).toEqual({ missing: ['bn.weight', 'bn.running_mean', 'seq.0.bias'], unexpected: ['extra.weight'] });
    expect(await arr(m.a.weight)).toEqual(new Array(9).fill(9));
    expect(() => m.loadStateDict(entries, { strict: false })).toThrow(/shape mismatch for 'bn.weight'/);
    m.dispose();
  });
});

describe('layers', () => {
  it('initialise as PyTorch, reproducibly from the seed', async () => {
    const c = new Conv2d(4, 6, 3, { rng: new Random(5), padding: 1 });
    const w = await arr(c.weight);
    const bound = 1 / Math.sqrt(4 * 9);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.8 * bound); // spread over the whole range
    expect(Math.max(...(await arr(c.bias!)).map(Math.abs))).toBeLessThanOrEqual(bound);
    const c2 = new Conv2d(4, 6, 3, { rng: new Random(5), padding: 1 });
    expect(await arr(c2.weight)).toEqual(w);
    const bn = new BatchNorm2d(3);
    expect(await arr(bn.weight)).toEqual([1, 1, 1]);
    expect(await arr(bn.bias)).toEqual([0, 0, 0]);
    expect(await arr(bn.runningVar)).toEqual([1, 1, 1]);
    const noBias = new Conv2d(2, 2, 1, { bias: false });
    expect(noBias.bias).toBeNull();
    expect(noBias.namedParameters().map(([n]) => n)).toEqual(['weight']);
    const b = new Blend(4, { rng: new Random(3) });
    const m = await arr(b.weight);
    for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) expect(Math.abs(m[i * 4 + j] - (i === j ? 1 : 0))).toBeLessThanOrEqual(0.1 / 2);
    for (const x of [c, c2, bn, noBias, b]) x.dispose();
  });

  it('Linear and Conv2d compute what their CPU definitions say', async () => {
    const lin = new Linear(3, 2, { rng: new Random(9) });
    const W = await arr(lin.weight);
    const B = await arr(lin.bias!);
    const x = [1, -2, 0.5];
    const y = await arr(lin.forward(tensor(x, [1, 3])));
    for (let o = 0; o < 2; o++) expect(y[o]).toBeCloseTo(B[o] + x.reduce((s, v, i) => s + v * W[o * 3 + i], 0), 5);
    // 1×1 conv with stride 2 on a 1-channel 3×3 image: picks corners, scaled, plus bias.
    const conv = new Conv2d(1, 1, 1, { stride: 2, rng: new Random(4) });
    const [w] = await arr(conv.weight);
    const [b] = await arr(conv.bias!);
    const img = tensor([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]);
    const out = conv.forward(img);
    expect(out.shape).toEqual([1, 1, 2, 2]);
    const got = await arr(out);
    [1, 3, 7, 9].forEach((v, i) => expect(got[i]).toBeCloseTo(w * v + b, 5));
    lin.dispose();
    conv.dispose();
  });

  it('Sequential fuses BatchNorm+ReLU without changing the result; MaxPool2d halves', async () => {
    const data = Array.from({ length: 2 * 2 * 4 * 4 }, (_, i) => Math.sin(i));
    const x = tensor(data, [2, 2, 4, 4]);
    const bn = new BatchNorm2d(2);
    const seq = new Sequential(bn, new ReLU(), new MaxPool2d(2));
    const fused = await arr(seq.forward(x));
    bn.eval(); // unfused path in eval mode must equal the fused one in eval mode too
    const a = await arr(relu(bn.forward(x)));
    const b = await arr(bn.forwardRelu(x));
    expect(b.map((v, i) => Math.abs(v - a[i])).every((d) => d < 1e-6)).toBe(true);
    expect(fused.length).toBe(2 * 2 * 2 * 2);
    expect(fused.every((v) => v >= 0)).toBe(true);
    seq.dispose();
  });

  it('ModuleList has no forward of its own', () => {
    const l = new ModuleList([new ReLU()]);
    expect(l.length).toBe(1);
    expect(() => l.forward()).toThrow(/no forward/);
  });

  it('subsample2d picks x[:, :, ::2, ::2] and routes gradients back to those positions', async () => {
    const x = tensor(Array.from({ length: 25 }, (_, i) => i - 12), [1, 1, 5, 5], { requiresGrad: true });
    const y = subsample2d(x);
    expect(y.shape).toEqual([1, 1, 3, 3]);
    expect(await arr(y)).toEqual([-12, -10, -8, -2, 0, 2, 8, 10, 12]);
    await y.backward(tensor(new Array(9).fill(1), [1, 1, 3, 3]));
    const g = await arr(x.grad!);
    g.forEach((v, i) => expect(v).toBe(Math.floor(i / 5) % 2 === 0 && (i % 5) % 2 === 0 ? 1 : 0));
  });
});

describe('addRelu (a residual block output: relu(add(a, b)) fused)', () => {
  const rng = new Random(77);
  const vals = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
  // CPU reference, float64: y = max(a + b, 0); da = db = dy where a + b > 0.
  const ref = (a: ArrayLike<number>, b: ArrayLike<number>) => Float64Array.from(a, (v, i) => Math.max(v + b[i], 0));

  it('matches relu(add(a, b)) bit for bit, forward and both gradients, in one dispatch each way', async () => {
    const { addRelu, add, sum, mul } = await import('../src/index.js');
    const { dispatchedEntries } = await import('./setup.js');
    const shape = [2, 3, 5, 7];
    const [av, bv, gv] = [vals(210), vals(210), vals(210)];
    const run = async (fused: boolean) => {
      const a = tensor(av, shape, { requiresGrad: true });
      const b = tensor(bv, shape, { requiresGrad: true });
      const seed = tensor(gv, shape);
      let y: Tensor | null = null;
      const forward = await dispatchedEntries(async () => void (y = fused ? addRelu(a, b) : relu(add(a, b))));
      const backward = await dispatchedEntries(() => y!.backward(seed));
      return { y: await arr(y!), da: await arr(a.grad!), db: await arr(b.grad!), forward, backward };
    };
    const fused = await run(true);
    const plain = await run(false);
    expect(fused.y).toEqual(plain.y);
    expect(fused.da).toEqual(plain.da);
    expect(fused.db).toEqual(plain.db);
    expect(fused.forward).toEqual(['elementwise.add_relu']);
    expect(fused.backward).toEqual(['elementwise.add_relu_backward']);
    // Against the float64 reference.
    const yRef = ref(av, bv);
    fused.y.forEach((v, i) => expect(v).toBeCloseTo(yRef[i], 5));
    fused.da.forEach((v, i) => expect(v).toBe(yRef[i] > 0 ? gv[i] : 0));
    // Finite differences of L = Σ addRelu(a, b) ⊙ w on the CPU reference, against the GPU gradient.
    const w = vals(210);
    const L = (a: ArrayLike<number>) => ref(a, bv).reduce((s, v, i) => s + v * w[i], 0);
    const a = tensor(av, shape, { requiresGrad: true });
    const b = tensor(bv, shape);
    tidy(() => void sum(mul(addRelu(a, b), tensor(w, shape))).backward());
    const ga = await arr(a.grad!);
    for (const i of [0, 17, 99, 209]) {
      if (Math.abs(av[i] + bv[i]) < 1e-3) continue; // the kink
      const h = 1e-4;
      const up = Float64Array.from(av);
      const down = Float64Array.from(av);
      up[i] += h;
      down[i] -= h;
      expect(ga[i]).toBeCloseTo((L(up) - L(down)) / (2 * h), 3);
    }
  });

  it('add(x, x) and an input without gradient fall back to relu_backward per gradient', async () => {
    const { addRelu } = await import('../src/index.js');
    const xv = vals(12);
    const x = tensor(xv, [12], { requiresGrad: true });
    const c = tensor(vals(12), [12]);
    await addRelu(x, x).backward(tensor(new Float32Array(12).fill(1), [12]));
    expect(await arr(x.grad!)).toEqual(Array.from(xv, (v) => (2 * v > 0 ? 2 : 0)));
    x.grad!.dispose();
    x.grad = null;
    const y = addRelu(c, x);
    await y.backward(tensor(new Float32Array(12).fill(1), [12]));
    const yv = await arr(y);
    expect(await arr(x.grad!)).toEqual(yv.map((v) => (v > 0 ? 1 : 0)));
  });
});

describe('reshape backward', () => {
  it('an intermediate takes the output gradient buffer (no copy pass); other uses still add into it', async () => {
    const { add, reshape, scale, mul, sum } = await import('../src/index.js');
    const { dispatchedEntries } = await import('./setup.js');
    const x = tensor([1, 2, 3, 4, 5, 6], [2, 3], { requiresGrad: true });
    const w = tensor([1, -1, 2, -2, 3, -3], [2, 3]);
    const v = tensor([1, 1, 1, 1, 1, 1], [6]);
    // h = 2x (an intermediate) used only by the reshape: its gradient is the reshape output's buffer.
    const only = await dispatchedEntries(() => sum(mul(reshape(scale(x, 2), [6]), v)).backward());
    expect(only.filter((e) => e === 'elementwise.axpy')).toEqual(['elementwise.axpy']); // scale.backward's only
    expect(await arr(x.grad!)).toEqual([2, 2, 2, 2, 2, 2]);
    x.grad!.dispose();
    x.grad = null;
    // Used by the reshape and once more directly: both gradients add up, whichever rule runs first.
    const h = scale(x, 2);
    await add(sum(mul(reshape(h, [6]), v)), sum(mul(h, w))).backward();
    expect(await arr(x.grad!)).toEqual([4, 0, 6, -2, 8, -4]); // 2·(1 + w)
  });
});
