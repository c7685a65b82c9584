import { describe, expect, it, beforeAll, vi } from 'vitest';
import { randn, tidy, gradBufferCount, tensor, type Tensor } from '../src/index.js';
import { Conv2d, StateDictError } from '../src/nn/index.js';
import {
  MODEL_NAMES,
  createModel,
  parameterBreakdown,
  compressionFactor,
  modelTable,
  formatTable,
  SharedVGG16,
  SharedResNet,
  SharedBottleneck,
  type Model,
  type ModelOptions,
} from '../src/models/index.js';
import { gpu } from './setup.js';

beforeAll(async () => {
  await gpu();
});

/** Builds, hands the model to fn, always disposes. */
async function withModel<T>(name: string, options: ModelOptions, fn: (m: Model) => T | Promise<T>): Promise<T> {
  const m = createModel(name, options);
  try {
    return await fn(m);
  } finally {
    m.dispose();
  }
}

const count = (name: string, options: ModelOptions = {}) => withModel(name, { initialize: false, ...options }, (m) => m.numParameters());

// Independent hand-derived counts from the specification (never from the built model).
const head = (n: number, k = 10) => n * k + k;
const expected: Record<string, (n: number) => number> = {
  's-vgg16': (n) => 9 * n * n + n + 13 * 2 * n + head(n),
  'sl-vgg16': (n) => 9 * n * n + n + 13 * 2 * n + 13 * n * n + head(n),
  's-resnet18': (n) => 9 * n * n + 17 * 2 * n + head(n),
  'sl-resnet18': (n) => 9 * n * n + 17 * 2 * n + 17 * n * n + head(n),
  's-resnet34': (n) => 9 * n * n + 33 * 2 * n + head(n),
  'sl-resnet34': (n) => 9 * n * n + 33 * 2 * n + 33 * n * n + head(n),
  's-resnet50': (n) => (n * n) / 4 + 9 * (n / 4) ** 2 + (n * n) / 4 + 16 * 2 * (n / 4 + n / 4 + n) + head(n),
  'sl-resnet50': (n) => (n * n) / 4 + 9 * (n / 4) ** 2 + (n * n) / 4 + 16 * 2 * (n / 4 + n / 4 + n) + 16 * n * n + head(n),
};

describe('parameter counts', () => {
  it('baselines match the published CIFAR counts (10 classes, 3 channels)', async () => {
    expect(await count('vgg16')).toBe(14_728_266);
    expect(await count('resnet18')).toBe(11_173_962);
    expect(await count('resnet34')).toBe(21_282_122);
    expect(await count('resnet50')).toBe(23_520_842);
    // One input channel changes only the first conv: 3×3×(3−1)×64 fewer weights.
    expect(await count('resnet18', { inChannels: 1 })).toBe(11_173_962 - 9 * 2 * 64);
    expect(await count('vgg16', { numClasses: 100 })).toBe(14_728_266 + 90 * 512 + 90);
  });

  for (const name of Object.keys(expected)) {
    it(`${name} matches the hand-derived count at n = 32 and 64`, async () => {
      for (const n of [32, 64]) expect(await count(name, { width: n })).toBe(expected[name](n));
    });
  }

  it("stem: 'conv' adds a 3×3 inChannels→n conv (no bias) and its BN", async () => {
    expect(await count('s-vgg16', { width: 32, stem: 'conv' })).toBe(expected['s-vgg16'](32) + 27 * 32 + 2 * 32);
    expect(await count('s-resnet18', { width: 16, stem: 'conv', inChannels: 1 })).toBe(expected['s-resnet18'](16) + 9 * 16 + 2 * 16);
  });

  it('parameterBreakdown splits the built model and sums to the total; compressionFactor uses the baseline', async () => {
    await withModel('sl-resnet50', { width: 32, initialize: false }, (m) => {
      const b = parameterBreakdown(m);
      expect(b.total).toBe(m.numParameters());
      expect(b.sharedConv).toBe(32 * 8 + 9 * 64 + 8 * 32);
      expect(b.blends).toBe(16 * 32 * 32);
      expect(b.bn).toBe(16 * 2 * (8 + 8 + 32));
      expect(b.classifier).toBe(330);
      expect(b.other).toBe(0);
      expect(compressionFactor(m)).toBeCloseTo(23_520_842 / b.total, 10);
    });
    await withModel('vgg16', { initialize: false }, (m) => {
      const b = parameterBreakdown(m);
      const bn = 2 * (64 * 2 + 128 * 2 + 256 * 3 + 512 * 6);
      expect(b).toEqual({ total: 14_728_266, sharedConv: 0, blends: 0, bn, classifier: 5130, other: 14_728_266 - 5130 - bn });
      expect(compressionFactor(m)).toBe(1);
    });
  });

  it('modelTable has a row per model and width; formatTable aligns it', () => {
    const rows = modelTable(10, { widths: [32] });
    expect(rows.length).toBe(4 + 4 * 2);
    const sv = rows.find((r) => r.name === 's-vgg16')!;
    expect(sv.total).toBe(expected['s-vgg16'](32));
    expect(sv.compression).toBeCloseTo(14_728_266 / sv.total, 8);
    const text = formatTable(rows);
    const lines = text.split('\n');
    expect(lines.length).toBe(rows.length + 2);
    expect(new Set(lines.map((l) => l.length)).size).toBe(1);
    expect(text).toMatch(/vgg16 +- +14,728,266/);
  });
});

describe('structure', () => {
  it('vgg16 and resnet use torchvision-style names', async () => {
    await withModel('vgg16', { initialize: false }, (m) => {
      const names = m.stateDict().map(([n]) => n);
      expect(names.slice(0, 8)).toEqual([
        'features.0.weight',
        'features.0.bias',
        'features.1.weight',
        'features.1.bias',
        'features.1.running_mean',
        'features.1.running_var',
        'features.3.weight',
        'features.3.bias',
      ]);
      expect(names).toContain('features.40.weight');
      expect(names.slice(-2)).toEqual(['classifier.weight', 'classifier.bias']);
      expect(names.filter((n) => /^features\.\d+\.weight$/.test(n)).length).toBe(26);
      expect(m.namedParameters().find(([n]) => n === 'features.7.weight')![1].shape).toEqual([128, 64, 3, 3]);
    });
    await withModel('resnet18', { initialize: false }, (m) => {
      const names = new Map(m.stateDict().map(([n, t]) => [n, t.shape]));
      expect(names.get('conv1.weight')).toEqual([64, 3, 3, 3]);
      expect(names.has('conv1.bias')).toBe(false);
      expect(names.get('bn1.running_var')).toEqual([64]);
      expect(names.get('layer1.0.conv1.weight')).toEqual([64, 64, 3, 3]);
      expect(names.get('layer2.0.downsample.0.weight')).toEqual([128, 64, 1, 1]);
      expect(names.get('layer2.0.downsample.1.weight')).toEqual([128]);
      expect(names.has('layer1.0.downsample.0.weight')).toBe(false);
      expect(names.get('fc.weight')).toEqual([10, 512]);
    });
    await withModel('resnet50', { initialize: false }, (m) => {
      const names = new Map(m.stateDict().map(([n, t]) => [n, t.shape]));
      expect(names.get('layer1.0.downsample.0.weight')).toEqual([256, 64, 1, 1]);
      expect(names.get('layer2.0.conv2.weight')).toEqual([128, 128, 3, 3]);
      expect(names.get('fc.weight')).toEqual([10, 2048]);
    });
  });

  it('S models hold exactly one shared conv weight tensor, used at every position', async () => {
    await withModel('sl-vgg16', { width: 8 }, (m) => {
      const s = m as SharedVGG16;
      expect(s.positions.length).toBe(13);
      expect(s.positions.every((c) => c === s.shared)).toBe(true);
      const convWeights = m.parameters().filter((p) => p.ndim === 4);
      expect(convWeights).toEqual([s.shared.weight]);
      expect(m.namedParameters().filter(([n]) => n.startsWith('blends.')).length).toBe(13);
      const spy = vi.spyOn(s.shared, 'forwardStride');
      tidy(() => m.forward(randn([2, 3, 32, 32], { seed: 1 })));
      expect(spy).toHaveBeenCalledTimes(13);
    });
    await withModel('s-resnet18', { width: 8 }, (m) => {
      const s = m as SharedResNet;
      expect(m.parameters().filter((p) => p.ndim === 4)).toEqual([(s.shared as Conv2d).weight]);
      const spy = vi.spyOn(s.shared as Conv2d, 'forwardStride');
      tidy(() => m.forward(randn([2, 3, 16, 16], { seed: 1 })));
      expect(spy).toHaveBeenCalledTimes(17);
      expect(spy.mock.calls.filter((c) => c[1] === 2).length).toBe(3);
    });
    await withModel('s-resnet50', { width: 16 }, (m) => {
      const s = m.shared as SharedBottleneck;
      expect(m.parameters().filter((p) => p.ndim === 4)).toEqual([s.conv1.weight, s.conv2.weight, s.conv3.weight]);
      const spy = vi.spyOn(s.conv2, 'forwardStride');
      tidy(() => m.forward(randn([2, 3, 16, 16], { seed: 1 })));
      expect(spy).toHaveBeenCalledTimes(16);
    });
  });

  it('the shared weight gets ONE gradient buffer summing all 13 uses', async () => {
    await withModel('s-vgg16', { width: 8 }, async (m) => {
      const s = m as SharedVGG16;
      const out = tidy(() => m.forward(randn([2, 3, 32, 32], { seed: 2 })));
      await out.backward(tensor(new Array(20).fill(1), [2, 10]));
      expect(gradBufferCount(s.shared.weight)).toBe(1);
      const g = await s.shared.weight.grad!.toArray();
      expect(g.every(Number.isFinite)).toBe(true);
      expect(g.some((v) => v !== 0)).toBe(true);
      out.dispose();
    });
  });

  it('loadStateDict on a model rejects a checkpoint of another width, listing every mismatch, and changes nothing', async () => {
    const small = createModel('s-vgg16', { width: 8, initialize: false });
    const entries = small.stateDict().map(([name, t]) => ({ name, shape: [...t.shape], data: new Float32Array(t.size) }));
    small.dispose();
    await withModel('s-vgg16', { width: 16 }, async (m) => {
      const before = await m.parameters()[0].toArray();
      let err: StateDictError | undefined;
      try {
        m.loadStateDict(entries);
      } catch (e) {
        err = e as StateDictError;
      }
      expect(err).toBeInstanceOf(StateDictError);
      // Every tensor depends on n except classifier.bias [10].
      expect(err!.mismatched).toEqual(entries.map((e) => e.name).filter((n) => n !== 'classifier.bias'));
      expect(err!.message).toMatch(/shape mismatch for 'shared.weight': checkpoint \[8, 8, 3, 3\], model \[16, 16, 3, 3\]/);
      expect(err!.message).toMatch(/classifier.weight/);
      expect(Array.from(await m.parameters()[0].toArray())).toEqual(Array.from(before));
    });
  });

  it('the same seed gives the same weights; another seed different ones', async () => {
    const a = await withModel('sl-resnet18', { width: 8, seed: 3 }, (m) => Promise.all(m.parameters().map((p) => p.toArray())));
    const b = await withModel('sl-resnet18', { width: 8, seed: 3 }, (m) => Promise.all(m.parameters().map((p) => p.toArray())));
    const c = await withModel('sl-resnet18', { width: 8, seed: 4 }, (m) => m.parameters()[0].toArray());
    expect(a.map((x) => Array.from(x))).toEqual(b.map((x) => Array.from(x)));
    expect(Array.from(c)).not.toEqual(Array.from(a[0]));
  });
});

describe('createModel validation', () => {
  it('rejects unknown names and bad widths, listing the valid names', () => {
    expect(() => createModel('vgg19')).toThrow(/unknown model 'vgg19'.*valid models: vgg16, s-vgg16, sl-vgg16, resnet18/);
    expect(() => createModel('s-vgg16')).toThrow(/width is required.*valid models:/);
    expect(() => createModel('s-vgg16', { width: 0 })).toThrow(/width must be an integer ≥ 1, got 0.*valid models:/);
    expect(() => createModel('s-resnet50', { width: 18 })).toThrow(/multiple of 4/);
    expect(() => createModel('s-vgg16', { width: 2 })).toThrow(/smaller than inChannels 3/);
    expect(() => createModel('vgg16', { inputSize: 28 })).toThrow(/at least 32×32/);
    expect(MODEL_NAMES.length).toBe(12);
  });
  it('records config and baseline', async () => {
    await withModel('sl-resnet34', { width: 8, numClasses: 5, inChannels: 1, initialize: false }, (m) => {
      expect(m.name).toBe('sl-resnet34');
      expect(m.baseline).toBe('resnet34');
      expect(m.config).toEqual({ name: 'sl-resnet34', width: 8, numClasses: 5, inputSize: 32, inChannels: 1, stem: 'pad', seed: 0, blendInit: 'identity' });
    });
  });
});

describe('forward passes on [2, 3, 32, 32]', () => {
  const cases: [string, ModelOptions][] = [
    ['s-vgg16', { width: 8 }],
    ['sl-vgg16', { width: 8 }],
    ['s-resnet18', { width: 8 }],
    ['sl-resnet50', { width: 16 }],
    ['resnet18', {}],
  ];
  for (const [name, options] of cases) {
    it(`${name} gives finite [2, 10] logits`, async () => {
      await withModel(name, options, async (m) => {
        const x = randn([2, 3, 32, 32], { seed: 11 });
        const y: Tensor = tidy(() => m.forward(x));
        expect(y.shape).toEqual([2, 10]);
        const v = await y.toArray();
        expect(v.every(Number.isFinite)).toBe(true);
        expect(new Set(v).size).toBeGreaterThan(1);
        // eval mode uses running statistics (updated by the training-mode pass above).
        m.eval();
        const z = await tidy(() => m.forward(x)).toArray();
        expect(z.every(Number.isFinite)).toBe(true);
        x.dispose();
        y.dispose();
      });
    }, 120_000);
  }
});
