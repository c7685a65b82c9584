import { describe, expect, it, beforeAll, vi } from 'vitest';
import { memoryStats, randn, tidy, gradBufferCount, tensor, crossEntropy, SGD, type Tensor } from '../src/index.js';
import { BatchNorm2d, Blend, Conv2d, StateDictError } from '../src/nn/index.js';
import {
  MODEL_NAMES,
  createModel,
  parameterBreakdown,
  compressionFactor,
  modelTable,
  formatTable,
  isModelName,
  parseModelName,
  TABLE_WIDTHS,
  SharedVGG16,
  SharedResNet,
  SharedBottleneck,
  ResNet,
  autoArch,
  IMAGENET_MIN_INPUT,
  type Model,
  type ModelOptions,
} from '../src/models/index.js';
import { CheckpointError, loadModelCheckpoint, modelCheckpoint, parseInfo, type CheckpointInfo } from '../src/train/checkpoint.js';
import { readSafetensorsHeader } from '../src/io/safetensors.js';
import { linearRef } from './reference/linear_loss.js';
import { batchNormRef, dot, globalAvgPoolRef, maxPoolRef, type Shape4 } from './reference/norm_pool.js';
import { gpu } from './setup.js';
import { close } from './close.js';
import { blendRef, conv2dRef, maxErr, seeded } from './reference/conv.js';
import { referenceForward } from './reference/models.js';

// Every max-pool (VGG's 2×2 pools, the ResNets' 1×1 stride-2 subsample) and the global average pool of the
// models go through these wrappers (vi.mock swaps the module for every importer in this file), so a test can
// record where the pools run. Recording is off unless `pools.trace` is set.
const pools = vi.hoisted(() => ({ trace: null as string[] | null }));
vi.mock('../src/ops/pool.js', async (importOriginal) => {
  const mod = await importOriginal<typeof import('../src/ops/pool.js')>();
  const dims = (s: readonly number[]) => s.join('x');
  return {
    ...mod,
    maxPool2d: (x: Tensor, o: { kernelSize: number; stride?: number }) => {
      const y = mod.maxPool2d(x, o);
      pools.trace?.push(`maxpool k${o.kernelSize} s${o.stride ?? o.kernelSize} ${dims(x.shape)} -> ${dims(y.shape)}`);
      return y;
    },
    globalAvgPool2d: (x: Tensor) => {
      pools.trace?.push(`gap ${dims(x.shape)}`);
      return mod.globalAvgPool2d(x);
    },
  };
});

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

/** The model's state dict as host arrays, by PyTorch name. */
async function stateOf(m: Model): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [n, t] of m.stateDict()) out.set(n, await t.toArray());
  return out;
}

/** Flat index of (o, c, kh, kw) in an [8, 8, 3, 3] weight. */
const weightIndex = (o: number, c: number, kh: number, kw: number) => ((o * 8 + c) * 3 + kh) * 3 + kw;

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

  it('the table widths are 32-512; a learned stem counts as "other"; modelTable takes inChannels', async () => {
    expect(TABLE_WIDTHS).toEqual([32, 64, 128, 256, 512]);
    await withModel('s-vgg16', { width: 8, stem: 'conv', initialize: false }, (m) => {
      // stem.0 (3×3×3→8, no bias) is "other"; stem.1 (its BN) counts with the BNs.
      expect(parameterBreakdown(m)).toEqual({ total: expected['s-vgg16'](8) + 27 * 8 + 16, sharedConv: 9 * 64 + 8, blends: 0, bn: 13 * 16 + 16, classifier: 90, other: 27 * 8 });
    });
    const rows = modelTable(10, { inChannels: 1, widths: [8] });
    const vgg = rows.find((r) => r.name === 'vgg16')!;
    // One input channel: the first conv has 9 × 64 × 2 fewer weights than with RGB.
    expect(vgg.total).toBe(14_728_266 - 9 * 64 * 2);
    expect(rows.find((r) => r.name === 'sl-resnet18')!.compression).toBeCloseTo((11_173_962 - 9 * 64 * 2) / expected['sl-resnet18'](8), 8);
  });

  it('parameterBreakdown counts a tensor registered at two places once, as numParameters does', async () => {
    await withModel('s-vgg16', { width: 8, initialize: false }, (m) => {
      const s = m as SharedVGG16;
      const before = parameterBreakdown(m);
      // The shared weight also registered under another module (as a tied weight would be).
      const alias = m.registerModule('alias', new Conv2d(1, 1, 1, { initialize: false, bias: false }));
      alias.registerParameter('tied', s.shared.weight);
      const after = parameterBreakdown(m);
      expect(after.total).toBe(m.numParameters());
      // The alias's own 1×1 weight is new ("other"); the tied shared weight is not counted again.
      expect(after).toEqual({ ...before, total: before.total + 1, other: before.other + 1 });
    });
  });

  it('counting and tabulating models frees every model it builds', async () => {
    const before = memoryStats().liveBytes;
    modelTable(10, { widths: [8] });
    await withModel('s-resnet34', { width: 8, numClasses: 7, inChannels: 1, initialize: false }, (m) => compressionFactor(m));
    expect(memoryStats().liveBytes).toBe(before);
  });

  it('formatTable aligns names left and numbers right; exactly 100× already prints without decimals', () => {
    const rows = modelTable(10, { widths: [32] });
    const lines = formatTable(rows).split('\n');
    // Names are padded on the right (start at column 0), every other column on the left (no trailing spaces).
    expect(lines[2].startsWith('vgg16 ')).toBe(true);
    expect(lines.every((l) => !l.endsWith(' '))).toBe(true);
    expect(lines[0]).toMatch(/^model +width +params/);
    const row = { ...rows[0], compression: 100 };
    expect(formatTable([row]).split('\n')[2].split(/ +/).at(-1)).toBe('100×');
    expect(formatTable([{ ...row, compression: 99.996 }]).split('\n')[2].split(/ +/).at(-1)).toBe('100.00×');
  });

  it('formatTable prints every column of a row, and the compression with 2 decimals below 100×, none from 100×', () => {
    const rows = modelTable(10, { widths: [32] });
    const line = (name: string) =>
      formatTable(rows)
        .split('\n')
        .find((l) => l.startsWith(`${name} `))!
        .split(/ +/);
    expect(formatTable(rows).split('\n')[0].split(/ +/)).toEqual(['model', 'width', 'params', 'shared', 'blends', 'bn', 'classifier', 'other', 'compression']);
    const bn = 2 * (64 * 2 + 128 * 2 + 256 * 3 + 512 * 6);
    expect(line('vgg16')).toEqual(['vgg16', '-', '14,728,266', '0', '0', bn.toLocaleString('en-US'), '5,130', (14_728_266 - 5130 - bn).toLocaleString('en-US'), '1.00×']);
    // s-vgg16 n = 32: 9·32² + 32 shared, 13·64 BN, 330 classifier: 10,410 in all, 14,728,266 / 10,410 = 1414.8 → "1415×".
    expect(line('s-vgg16')).toEqual(['s-vgg16', '32', '10,410', '9,248', '0', '832', '330', '0', '1415×']);
    // sl-resnet50 at 32: 2 × 8·32 + 9·8² = 1,088 shared, 16 blends of 32², 16·2·48 BN, 330: 19,338 in all;
    // 23,520,842 / 19,338 = 1216.3.
    expect(line('sl-resnet50')).toEqual(['sl-resnet50', '32', '19,338', '1,088', '16,384', '1,536', '330', '0', '1216×']);
    // Below 100×: sl-vgg16 at n = 512 has 22·512² conv + blend weights, 512 + 13·1,024 + 5,130 others: 5,786,122;
    // 14,728,266 / 5,786,122 = 2.545… → "2.55×".
    const wide = modelTable(10, { widths: [512] }).find((r) => r.name === 'sl-vgg16')!;
    expect(wide.total).toBe(5_786_122);
    expect(formatTable([wide]).split('\n')[2].split(/ +/).at(-1)).toBe('2.55×');
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

  it('the shared weight gets ONE gradient buffer: the gradient through all 13 uses, as central differences of the float64 reference give it', async () => {
    await withModel('s-vgg16', { width: 8 }, async (m) => {
      const s = m as SharedVGG16;
      const shape: Shape4 = [2, 3, 32, 32];
      const xv = seeded(2 * 3 * 32 * 32, 2);
      const dy = seeded(20, 3);
      const state = await stateOf(m);
      const out = tidy(() => m.forward(tensor(xv, shape)));
      await out.backward(tensor(dy, [2, 10]));
      out.dispose();
      expect(gradBufferCount(s.shared.weight)).toBe(1);
      const g = await s.shared.weight.grad!.toArray();
      // L(w) = Σ dy · logits(w), the shared weight changed at all 13 positions at once (float64, training-mode BN).
      const cfg = { name: 's-vgg16', width: 8, inChannels: 3, numClasses: 10 };
      const loss = (w: Float64Array) => dot(referenceForward(cfg, new Map<string, ArrayLike<number>>(state).set('shared.weight', w), xv, shape).logits!, dy);
      const w0 = Float64Array.from(state.get('shared.weight')!);
      const scale = Math.max(...g.map(Math.abs));
      const h = 1e-5;
      // Entries spread over the weight [8, 8, 3, 3], centre and corner taps, several (out, in) channel pairs.
      for (const i of [weightIndex(0, 0, 0, 0), weightIndex(1, 3, 0, 1), weightIndex(3, 7, 2, 2), weightIndex(5, 2, 1, 1), weightIndex(7, 7, 2, 2)]) {
        const up = Float64Array.from(w0);
        up[i] += h;
        const down = Float64Array.from(w0);
        down[i] -= h;
        const fd = (loss(up) - loss(down)) / (2 * h);
        expect(Math.abs(g[i] - fd), `d/dw[${i}]: GPU ${g[i]}, central difference ${fd}`).toBeLessThanOrEqual(2e-4 * scale);
      }
      expect(scale).toBeGreaterThan(0);
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
  it('rejects every bad option with a message naming the model, the option, the value and the rule', () => {
    expect(() => createModel('s-vgg16', { width: 1.5 })).toThrow(/createModel\('s-vgg16'\): width must be an integer ≥ 1, got 1\.5\. valid models:/);
    expect(() => createModel('vgg16', { numClasses: 0 })).toThrow(/createModel\('vgg16'\): numClasses must be an integer ≥ 1, got 0/);
    expect(() => createModel('vgg16', { numClasses: 2.5 })).toThrow(/numClasses must be an integer ≥ 1, got 2\.5/);
    expect(() => createModel('resnet18', { inputSize: 0 })).toThrow(/createModel\('resnet18'\): inputSize must be an integer ≥ 1, got 0/);
    expect(() => createModel('resnet18', { inChannels: 0 })).toThrow(/inChannels must be an integer ≥ 1, got 0/);
    expect(() => createModel('resnet18', { seed: -1 })).toThrow(/createModel\('resnet18'\): seed must be an integer ≥ 0, got -1/);
    expect(() => createModel('resnet18', { seed: 0.5 })).toThrow(/seed must be an integer ≥ 0, got 0\.5/);
    expect(() => createModel('s-vgg16', { width: 8, stem: 'none' as 'pad' })).toThrow(/createModel\('s-vgg16'\): stem must be 'pad' or 'conv', got 'none'/);
    expect(() => createModel('sl-vgg16', { width: 8, blendInit: 'zero' as 'identity' })).toThrow(/createModel\('sl-vgg16'\): blendInit must be 'identity' or 'kaiming', got 'zero'/);
    expect(() => createModel('s-resnet18', { width: 2 })).toThrow(
      /createModel\('s-resnet18'\): width 2 is smaller than inChannels 3; zero-padding cannot shrink the input \(use a width ≥ 3 or stem: 'conv'\)/,
    );
    expect(() => createModel('sl-resnet50', { width: 6 })).toThrow(/createModel\('sl-resnet50'\): width must be a multiple of 4 \(the bottleneck's inner width is n\/4\), got 6/);
    expect(() => createModel('s-vgg16', { inputSize: 31, width: 8 })).toThrow(/s-vgg16: inputSize 31 is too small: five 2×2 max-pools need at least 32×32/);
  });

  it('accepts the boundaries of every rule', async () => {
    // Lowest legal values: seed 0, one class, one input channel, width = inChannels, a learned stem narrower
    // than the input, ResNet-50 widths that are multiples of 4, VGG at exactly 32×32; baselines take no width.
    await withModel('s-vgg16', { width: 3, seed: 0, numClasses: 1, inputSize: 32, initialize: false }, (m) => expect(m.config.width).toBe(3));
    await withModel('s-resnet18', { width: 2, stem: 'conv', initialize: false }, (m) => expect(m.config.stem).toBe('conv'));
    await withModel('s-resnet50', { width: 4, inChannels: 1, initialize: false }, (m) => expect(m.config.width).toBe(4));
    await withModel('resnet18', { inputSize: 1, initialize: false }, (m) => expect(m.config.inputSize).toBe(1));
    await withModel('vgg16', { width: 5, initialize: false }, (m) => expect(m.config.width).toBeNull());
  });

  it('fuses SL blends into the conv by default; fuseBlend: false switches that off', async () => {
    for (const name of ['sl-vgg16', 'sl-resnet18', 'sl-resnet50']) {
      await withModel(name, { width: 8, initialize: false }, (m) => expect((m as SharedVGG16 | SharedResNet).fuseBlend).toBe(true));
      await withModel(name, { width: 8, initialize: false, fuseBlend: false }, (m) => expect((m as SharedVGG16 | SharedResNet).fuseBlend).toBe(false));
    }
  });

  it('names every tensor by its state-dict name as soon as the model is built', async () => {
    await withModel('sl-resnet18', { width: 4, initialize: false }, (m) => {
      const s = m as SharedResNet;
      // Read before any stateDict()/namedParameters() call (those would name them too).
      expect((s.shared as Conv2d).weight.name).toBe('shared.weight');
      expect(s.fc.bias!.name).toBe('fc.bias');
      expect(s.bn1!.runningVar.name).toBe('bn1.running_var');
    });
  });

  it("initialises SL blends from the model's generator: 'identity' = I + U(±0.1/√n), 'kaiming' = U(±1/√n), each blend its own draw", async () => {
    const n = 16;
    for (const name of ['sl-vgg16', 'sl-resnet18']) {
      for (const blendInit of ['identity', 'kaiming'] as const) {
        await withModel(name, { width: n, blendInit, seed: 7 }, async (m) => {
          const blends = await Promise.all(m.namedParameters().filter(([k]) => /blend/.test(k)).map(([, t]) => t.toArray()));
          expect(blends.length).toBe(name === 'sl-vgg16' ? 13 : 17);
          const bound = 1 / Math.sqrt(n);
          for (const b of blends) {
            for (let o = 0; o < n; o++)
              for (let i = 0; i < n; i++) {
                const off = b[o * n + i] - (blendInit === 'identity' && o === i ? 1 : 0);
                expect(Math.abs(off)).toBeLessThanOrEqual((blendInit === 'identity' ? 0.1 : 1) * bound);
              }
            // Spread over the range (not a constant): the largest |offset| is near the bound.
            const spread = Math.max(...b.map((v, j) => Math.abs(v - (blendInit === 'identity' && j % (n + 1) === 0 ? 1 : 0))));
            expect(spread).toBeGreaterThan((blendInit === 'identity' ? 0.05 : 0.5) * bound);
          }
          // Every blend is its own draw from the one generator: no two are equal.
          expect(new Set(blends.map((b) => b.join())).size).toBe(blends.length);
        });
      }
    }
  });

  it('parses model names', () => {
    expect(parseModelName('vgg16')).toEqual({ kind: 'baseline', base: 'vgg16' });
    expect(parseModelName('s-resnet50')).toEqual({ kind: 's', base: 'resnet50' });
    expect(parseModelName('sl-resnet34')).toEqual({ kind: 'sl', base: 'resnet34' });
    expect(isModelName('sl-vgg16')).toBe(true);
    expect(isModelName('sl-vgg19')).toBe(false);
    expect(isModelName('')).toBe(false);
  });

  it('the shared bottleneck cannot be applied on its own (each position brings its BNs)', async () => {
    await withModel('s-resnet50', { width: 8, initialize: false }, (m) => {
      expect(() => (m.shared as SharedBottleneck).forward()).toThrow(/SharedBottleneck has no forward\(\): each block position applies it with its own BatchNorms \(SharedBottleneckUse\)/);
    });
  });

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
      expect(m.config).toEqual({ name: 'sl-resnet34', width: 8, numClasses: 5, inputSize: 32, inChannels: 1, stem: 'pad', arch: 'cifar', seed: 0, blendInit: 'identity' });
    });
  });
});

describe('training-mode forward, running statistics, eval-mode forward', () => {
  const cases: [string, ModelOptions, Shape4][] = [
    ['s-vgg16', { width: 8 }, [2, 3, 32, 32]],
    ['sl-vgg16', { width: 8 }, [2, 3, 32, 32]],
    ['s-resnet18', { width: 8 }, [2, 3, 32, 32]],
    ['sl-resnet50', { width: 16 }, [2, 3, 32, 32]],
    ['resnet18', {}, [2, 3, 16, 16]],
  ];
  for (const [name, options, shape] of cases) {
    it(`${name}: a training pass moves every BN's running statistics as PyTorch does; eval mode normalises with them`, async () => {
      await withModel(name, { ...options, inputSize: shape[2] }, async (m) => {
        const cfg = { name, width: options.width, inChannels: 3, numClasses: 10 };
        const xv = seeded(shape[0] * shape[1] * shape[2] * shape[3], 11);
        const x = tensor(xv, shape);
        const before = await stateOf(m);
        const y: Tensor = tidy(() => m.forward(x));
        const train = referenceForward(cfg, before, xv, shape);
        close(`${name} training-mode logits`, await y.toArray(), train.logits!);
        // running = 0.9 · running + 0.1 · batch statistic (the variance unbiased), for every BN, each once.
        const after = await stateOf(m);
        const buffers = [...after.keys()].filter((n) => /running_(mean|var)$/.test(n));
        expect([...train.running.keys()].sort()).toEqual(buffers.sort());
        for (const n of buffers) close(n, after.get(n)!, train.running.get(n)!);
        m.eval();
        const z = tidy(() => m.forward(x));
        const evalRef = referenceForward(cfg, after, xv, shape, false);
        close(`${name} eval-mode logits`, await z.toArray(), evalRef.logits!);
        // The two modes really differ here (a model ignoring eval() would fail the check above).
        expect(maxErr(evalRef.logits!, train.logits!).err).toBeGreaterThan(1e-2 * maxErr(train.logits!, train.logits!.map(() => 0)).err);
        x.dispose();
        y.dispose();
        z.dispose();
      });
    });
  }
});

/**
 * Runs m.forward(x) recording every application as test/reference/models.ts writes its trace: convs (input
 * side, stride, a folded blend, output shape), blends applied on their own, BatchNorms (fused ReLU or not),
 * pools, the global average pool. Convs, blends and BNs are observed through their classes' prototypes, pools
 * through the wrapped ops module above.
 */
function tracedForward(m: Model, x: Tensor): { y: Tensor; trace: string[] } {
  const trace: string[] = [];
  const dims = (s: readonly number[]) => s.join('x');
  const conv = Conv2d.prototype.forwardStride;
  const bn = BatchNorm2d.prototype.forward;
  const bnRelu = BatchNorm2d.prototype.forwardRelu;
  const blendForward = Blend.prototype.forward;
  const spies = [
    vi.spyOn(Conv2d.prototype, 'forwardStride').mockImplementation(function (this: Conv2d, input, stride, blendFirst, ...rest) {
      const y = conv.call(this, input, stride, blendFirst, ...rest);
      trace.push(`conv ${dims(input.shape.slice(1))} s${stride}${blendFirst ? ' +blend' : ''} -> ${dims(y.shape)}`);
      return y;
    }),
    vi.spyOn(Blend.prototype, 'forward').mockImplementation(function (this: Blend, input) {
      trace.push(`blend ${dims(input.shape)}`);
      return blendForward.call(this, input);
    }),
    vi.spyOn(BatchNorm2d.prototype, 'forward').mockImplementation(function (this: BatchNorm2d, input) {
      trace.push(`bn ${dims(input.shape)}`);
      return bn.call(this, input);
    }),
    vi.spyOn(BatchNorm2d.prototype, 'forwardRelu').mockImplementation(function (this: BatchNorm2d, input) {
      trace.push(`bn+relu ${dims(input.shape)}`);
      return bnRelu.call(this, input);
    }),
  ];
  pools.trace = trace;
  try {
    return { y: tidy(() => m.forward(x)), trace };
  } finally {
    pools.trace = null;
    for (const s of spies) s.mockRestore();
  }
}

describe('every model against an independent float64 reference (test/reference/models.ts)', () => {
  // Per-application shapes (the trace) for every model name, and logits from the model's own weights. Small
  // widths; VGG needs 32×32, the ResNets run on 16×16 (stage 4 at 2×2, so BN sees 8 values per channel).
  const cases: [string, ModelOptions, Shape4][] = [
    ['vgg16', { inChannels: 1 }, [2, 1, 32, 32]],
    ['s-vgg16', { width: 8 }, [2, 3, 32, 32]],
    ['s-vgg16', { width: 8, inChannels: 1, stem: 'conv' }, [2, 1, 32, 32]],
    ['sl-vgg16', { width: 8 }, [2, 3, 32, 32]],
    ['sl-vgg16', { width: 8, fuseBlend: false, numClasses: 7 }, [2, 3, 32, 32]],
    ['sl-vgg16', { width: 4, inChannels: 1, stem: 'conv' }, [2, 1, 32, 32]],
    ['resnet18', {}, [2, 3, 16, 16]],
    ['s-resnet18', { width: 8 }, [2, 3, 16, 16]],
    ['sl-resnet18', { width: 8 }, [2, 3, 16, 16]],
    ['sl-resnet18', { width: 4, fuseBlend: false, stem: 'conv' }, [2, 3, 16, 16]],
    ['resnet34', { inChannels: 1 }, [2, 1, 16, 16]],
    ['s-resnet34', { width: 4 }, [2, 3, 16, 16]],
    ['sl-resnet34', { width: 4, inChannels: 1 }, [2, 1, 16, 16]],
    ['resnet50', { numClasses: 5 }, [2, 3, 16, 16]],
    ['s-resnet50', { width: 8 }, [2, 3, 16, 16]],
    ['sl-resnet50', { width: 8 }, [2, 3, 16, 16]],
    ['sl-resnet50', { width: 8, fuseBlend: false, stem: 'conv', blendInit: 'kaiming' }, [2, 3, 16, 16]],
  ];

  it('covers every model name', () => {
    expect(new Set(cases.map(([n]) => n))).toEqual(new Set(MODEL_NAMES));
  });

  for (const [name, options, shape] of cases) {
    it(`${name} ${JSON.stringify(options)} on [${shape}]: per-application shapes and logits`, async () => {
      const inChannels = options.inChannels ?? 3;
      const numClasses = options.numClasses ?? 10;
      await withModel(name, { ...options, inputSize: shape[2], seed: 5 }, async (m) => {
        const xv = seeded(shape[0] * shape[1] * shape[2] * shape[3], 21);
        const x = tensor(xv, shape);
        const { y, trace } = tracedForward(m, x);
        const state = await stateOf(m);
        const ref = referenceForward({ name, width: options.width, inChannels, numClasses, stem: options.stem, fuseBlend: options.fuseBlend }, state, xv, shape);
        // Shapes first: a pool or a stride one application early shows here as a readable diff.
        expect(trace).toEqual(ref.trace);
        expect(y.shape).toEqual([shape[0], numClasses]);
        close(`${name} logits`, await y.toArray(), ref.logits!);
        x.dispose();
        y.dispose();
      });
    });
  }

  it('the reference traces pin the architectures: pools after VGG positions 2, 4, 7, 10, 13; ResNet strides in the first block of stages 2-4', () => {
    // The reference itself, against counts derived by hand from the papers (not from any code).
    const vgg = referenceForward({ name: 's-vgg16', width: 8, inChannels: 3, numClasses: 10 }, null, null, [1, 3, 32, 32]).trace;
    const convSides = vgg.filter((l) => l.startsWith('conv')).map((l) => Number(/^conv \d+x(\d+)x/.exec(l)![1]));
    expect(convSides).toEqual([32, 32, 16, 16, 8, 8, 8, 4, 4, 4, 2, 2, 2]);
    // The first use reads the 3 real channels of the zero-padded input, every later one all 8.
    expect(vgg[0]).toBe('conv 3x32x32 s1 -> 1x8x32x32');
    expect(vgg[2]).toBe('conv 8x32x32 s1 -> 1x8x32x32');
    expect(vgg.filter((l) => l.startsWith('maxpool')).length).toBe(5);
    expect(vgg.at(-1)).toBe('gap 1x8x1x1');
    const r50 = referenceForward({ name: 'resnet50', inChannels: 3, numClasses: 10 }, null, null, [1, 3, 32, 32]).trace;
    // 1 stem conv + 16 blocks × 3 convs + 4 projections (the first block of each stage) = 53 convs; stride 2 in
    // stages 2-4 only, on the 3×3 conv and the projection of their first block: 6.
    expect(r50.filter((l) => l.startsWith('conv')).length).toBe(53);
    expect(r50.filter((l) => / s2 /.test(l)).length).toBe(6);
    expect(r50.at(-1)).toBe('gap 1x2048x4x4');
    const s18 = referenceForward({ name: 's-resnet18', width: 8, inChannels: 3, numClasses: 10 }, null, null, [1, 3, 32, 32]).trace;
    expect(s18.filter((l) => l.startsWith('conv')).length).toBe(17);
    expect(s18.filter((l) => l.startsWith('maxpool k1 s2')).length).toBe(3);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The ImageNet form (arch 'imagenet'): torchvision's resnet18/34/50 stem, and the S / SL variants with that stem.

/**
 * Float64 forward of the ImageNet-form ResNets, written from torchvision's definition (not from the models' code):
 * conv1 7×7 stride 2 padding 3 (no bias) → bn1 + ReLU → max-pool 3×3 stride 2 padding 1 → layer1–4 → global
 * average pool → fc. Baselines: BasicBlock / Bottleneck (v1.5, stride on the 3×3), projection 1×1 conv + BN where
 * the shape changes. S / SL: the unshared stem (n channels) then the shared conv at both convs of every basic block
 * (no stem use), or the shared bottleneck at the 16 positions; parameter-free shortcuts (x, or x[:, :, ::2, ::2]).
 * Training-mode BN. The trace has the format of tracedForward's (maxpool lines give kernel and stride only).
 */
function imagenetReference(name: string, width: number | undefined, numClasses: number, state: ReadonlyMap<string, ArrayLike<number>>, xv: ArrayLike<number>, shape: Shape4, fuseBlend = true) {
  type A = { x: Float64Array; s: Shape4 };
  const trace: string[] = [];
  const dims = (s: readonly number[]) => s.join('x');
  const w = (k: string) => {
    const v = state.get(k);
    if (!v) throw new Error(`imagenetReference: no '${k}'`);
    return v;
  };
  const conv = (a: A, weight: string, O: number, K: number, stride: number, pad: number, blend: string | null = null): A => {
    const [N, C, H, W] = a.s;
    const s: Shape4 = [N, O, Math.floor((H + 2 * pad - K) / stride) + 1, Math.floor((W + 2 * pad - K) / stride) + 1];
    if (blend && !fuseBlend) trace.push(`blend ${dims(a.s)}`);
    trace.push(`conv ${C}x${H}x${W} s${stride}${blend && fuseBlend ? ' +blend' : ''} -> ${dims(s)}`);
    const xin = blend ? blendRef(N, C, H, W, C, a.x, w(blend), null) : a.x;
    return { x: conv2dRef({ N, C, H, W, O, KH: K, KW: K, stride, pad }, xin, w(weight), null), s };
  };
  const bn = (a: A, p: string, relu: boolean): A => {
    trace.push(`bn${relu ? '+relu' : ''} ${dims(a.s)}`);
    const o = { weight: w(`${p}.weight`), bias: w(`${p}.bias`), runningMean: w(`${p}.running_mean`), runningVar: w(`${p}.running_var`), training: true, relu };
    return { x: batchNormRef(a.x, a.s, o).y, s: a.s };
  };
  const pool = (a: A, k: number, stride: number, padding: number): A => {
    const s: Shape4 = [a.s[0], a.s[1], Math.floor((a.s[2] + 2 * padding - k) / stride) + 1, Math.floor((a.s[3] + 2 * padding - k) / stride) + 1];
    trace.push(`maxpool k${k} s${stride} ${dims(a.s)} -> ${dims(s)}`);
    return { x: maxPoolRef(a.x, a.s, { kernelSize: k, stride, padding }).y, s };
  };
  const addRelu = (a: A, b: A): A => {
    expect(dims(a.s)).toBe(dims(b.s));
    return { x: a.x.map((v, i) => Math.max(v + b.x[i], 0)), s: a.s };
  };
  const m = /^(sl?-)?resnet(18|34|50)$/.exec(name)!;
  const shared = m[1] !== undefined;
  const linked = m[1] === 'sl-';
  const bottleneck = m[2] === '50';
  const stages = m[2] === '18' ? [2, 2, 2, 2] : [3, 4, 6, 3];
  const n = width ?? 0;
  let x: A = { x: Float64Array.from(xv), s: shape };
  x = pool(bn(conv(x, 'conv1.weight', shared ? n : 64, 7, 2, 3), 'bn1', true), 3, 2, 1);
  let inPlanes = 64;
  stages.forEach((blocks, st) => {
    for (let b = 0; b < blocks; b++) {
      const p = `layer${st + 1}.${b}`;
      const stride = st > 0 && b === 0 ? 2 : 1;
      let h: A;
      if (shared && bottleneck) {
        h = bn(conv(x, 'shared.conv1.weight', n / 4, 1, 1, 0, linked ? `${p}.blend.weight` : null), `${p}.bn1`, true);
        h = bn(conv(h, 'shared.conv2.weight', n / 4, 3, stride, 1), `${p}.bn2`, true);
        h = bn(conv(h, 'shared.conv3.weight', n, 1, 1, 0), `${p}.bn3`, false);
        x = addRelu(h, stride === 2 ? pool(x, 1, 2, 0) : x);
      } else if (shared) {
        h = bn(conv(x, 'shared.weight', n, 3, stride, 1, linked ? `${p}.blend1.weight` : null), `${p}.bn1`, true);
        h = bn(conv(h, 'shared.weight', n, 3, 1, 1, linked ? `${p}.blend2.weight` : null), `${p}.bn2`, false);
        x = addRelu(h, stride === 2 ? pool(x, 1, 2, 0) : x);
      } else {
        const planes = 64 << st;
        const out = planes * (bottleneck ? 4 : 1);
        if (bottleneck) {
          h = bn(conv(x, `${p}.conv1.weight`, planes, 1, 1, 0), `${p}.bn1`, true);
          h = bn(conv(h, `${p}.conv2.weight`, planes, 3, stride, 1), `${p}.bn2`, true);
          h = bn(conv(h, `${p}.conv3.weight`, out, 1, 1, 0), `${p}.bn3`, false);
        } else {
          h = bn(conv(x, `${p}.conv1.weight`, planes, 3, stride, 1), `${p}.bn1`, true);
          h = bn(conv(h, `${p}.conv2.weight`, planes, 3, 1, 1), `${p}.bn2`, false);
        }
        const shortcut = stride !== 1 || inPlanes !== out ? bn(conv(x, `${p}.downsample.0.weight`, out, 1, stride, 0), `${p}.downsample.1`, false) : x;
        x = addRelu(h, shortcut);
        inPlanes = out;
      }
    }
  });
  trace.push(`gap ${dims(x.s)}`);
  const [N, C] = x.s;
  const logits = linearRef(globalAvgPoolRef(x.x, x.s), Float64Array.from(w('fc.weight')), Float64Array.from(w('fc.bias')), N, C, numClasses);
  return { logits, trace };
}

describe("arch 'imagenet': torchvision's ResNets (7×7 stride-2 stem + 3×3 stride-2 max-pool)", () => {
  const imagenet = (name: string, options: ModelOptions = {}) => count(name, { arch: 'imagenet', ...options });

  it("baselines match torchvision's resnet18/34/50 exactly for 1000 classes", async () => {
    expect(await imagenet('resnet18', { numClasses: 1000 })).toBe(11_689_512);
    expect(await imagenet('resnet34', { numClasses: 1000 })).toBe(21_797_672);
    expect(await imagenet('resnet50', { numClasses: 1000 })).toBe(25_557_032);
    // Against the CIFAR form: conv1 is 7×7×3×64 instead of 3×3×3×64 (+7,680); the head is the same size.
    expect(await imagenet('resnet18')).toBe(11_173_962 + 49 * 3 * 64 - 9 * 3 * 64);
    expect(await imagenet('resnet50', { inChannels: 1 })).toBe(23_520_842 + 49 * 64 - 9 * 3 * 64);
  });

  it('torchvision names and shapes; parameter tensors as torchvision counts them (62 / 110 / 161)', async () => {
    await withModel('resnet18', { arch: 'imagenet', numClasses: 1000, initialize: false }, (m) => {
      const names = new Map(m.stateDict().map(([n, t]) => [n, t.shape]));
      expect(names.get('conv1.weight')).toEqual([64, 3, 7, 7]);
      expect(names.has('conv1.bias')).toBe(false);
      expect(names.get('bn1.weight')).toEqual([64]);
      expect(names.get('bn1.running_mean')).toEqual([64]);
      expect(names.get('layer1.0.conv1.weight')).toEqual([64, 64, 3, 3]);
      expect(names.has('layer1.0.downsample.0.weight')).toBe(false);
      expect(names.get('layer4.0.downsample.0.weight')).toEqual([512, 256, 1, 1]);
      expect(names.get('layer4.1.conv2.weight')).toEqual([512, 512, 3, 3]);
      expect(names.get('fc.weight')).toEqual([1000, 512]);
      expect(names.get('fc.bias')).toEqual([1000]);
      // The max-pool has no parameters and no name; nothing else is added.
      expect([...names.keys()].filter((k) => !/^(conv1|bn1|layer[1-4]\.\d+\.|fc)/.test(k))).toEqual([]);
      expect(m.namedParameters().length).toBe(62);
      const conv1 = (m as ResNet).conv1;
      expect([conv1.stride, conv1.padding, conv1.kernelSize]).toEqual([2, 3, 7]);
    });
    expect(await withModel('resnet34', { arch: 'imagenet', initialize: false }, (m) => m.namedParameters().length)).toBe(110);
    await withModel('resnet50', { arch: 'imagenet', initialize: false }, (m) => {
      const names = new Map(m.stateDict().map(([n, t]) => [n, t.shape]));
      expect(m.namedParameters().length).toBe(161);
      expect(names.get('conv1.weight')).toEqual([64, 3, 7, 7]);
      // v1.5: the stride sits on the 3×3 conv (conv2) of the first bottleneck of layers 2–4.
      expect(names.get('layer2.0.conv2.weight')).toEqual([128, 128, 3, 3]);
      expect(names.get('layer1.0.downsample.0.weight')).toEqual([256, 64, 1, 1]);
      expect(names.get('fc.weight')).toEqual([10, 2048]);
    });
  });

  // Hand-derived: the unshared stem (7×7 inChannels→n, no bias, + BN), then the CIFAR form's body without the shared
  // conv's stem use (16 / 32 uses for 18 / 34; the bottleneck's 16 positions for 50).
  const stem = (n: number, c = 3) => 49 * c * n + 2 * n;
  const bneck = (n: number) => (n * n) / 4 + 9 * (n / 4) ** 2 + (n * n) / 4;
  const imagenetExpected: Record<string, (n: number) => number> = {
    's-resnet18': (n) => stem(n) + 9 * n * n + 16 * 2 * n + head(n),
    'sl-resnet18': (n) => stem(n) + 9 * n * n + 16 * 2 * n + 16 * n * n + head(n),
    's-resnet34': (n) => stem(n) + 9 * n * n + 32 * 2 * n + head(n),
    'sl-resnet34': (n) => stem(n) + 9 * n * n + 32 * 2 * n + 32 * n * n + head(n),
    's-resnet50': (n) => stem(n) + bneck(n) + 16 * 2 * (n / 4 + n / 4 + n) + head(n),
    'sl-resnet50': (n) => stem(n) + bneck(n) + 16 * 2 * (n / 4 + n / 4 + n) + 16 * n * n + head(n),
  };
  for (const name of Object.keys(imagenetExpected)) {
    it(`${name} (imagenet) matches the hand-derived count at n = 32 and 64`, async () => {
      for (const n of [32, 64]) expect(await imagenet(name, { width: n })).toBe(imagenetExpected[name](n));
    });
  }

  it('S / SL: the stem conv1 + bn1 is not shared (breakdown "other" / "bn"); stem and the zero-padding rule do not apply', async () => {
    await withModel('sl-resnet18', { width: 8, arch: 'imagenet', initialize: false }, (m) => {
      const names = new Map(m.stateDict().map(([n, t]) => [n, t.shape]));
      expect(names.get('conv1.weight')).toEqual([8, 3, 7, 7]);
      expect(names.get('bn1.weight')).toEqual([8]);
      expect(names.get('shared.weight')).toEqual([8, 8, 3, 3]);
      expect(names.has('blend1.weight')).toBe(false);
      expect(names.get('layer1.0.blend1.weight')).toEqual([8, 8]);
      expect([...names.keys()].filter((k) => k.startsWith('stem.'))).toEqual([]);
      const b = parameterBreakdown(m);
      expect(b).toEqual({ total: imagenetExpected['sl-resnet18'](8), sharedConv: 9 * 64, blends: 16 * 64, bn: 2 * 8 + 16 * 16, classifier: 90, other: 49 * 3 * 8 });
      // C against the ImageNet-form baseline with the same classes and channels.
      expect(compressionFactor(m) * b.total).toBeCloseTo(11_173_962 + 49 * 3 * 64 - 9 * 3 * 64, 4);
    });
    // stem: 'conv' adds nothing; a width below inChannels is fine (the 7×7 conv maps 3 → 2 channels).
    expect(await imagenet('s-resnet18', { width: 8, stem: 'conv' })).toBe(imagenetExpected['s-resnet18'](8));
    expect(await imagenet('s-resnet18', { width: 2 })).toBe(imagenetExpected['s-resnet18'](2));
  });

  it("arch 'auto' (the default) takes the ImageNet form from 128 px on; VGG keeps its only (CIFAR) form", async () => {
    expect(IMAGENET_MIN_INPUT).toBe(128);
    expect([28, 32, 64, 127, 128, 224].map(autoArch)).toEqual(['cifar', 'cifar', 'cifar', 'cifar', 'imagenet', 'imagenet']);
    for (const [inputSize, arch] of [[32, 'cifar'], [64, 'cifar'], [127, 'cifar'], [128, 'imagenet'], [224, 'imagenet']] as const) {
      await withModel('s-resnet18', { width: 8, inputSize, initialize: false }, (m) => expect(m.config.arch).toBe(arch));
      await withModel('resnet50', { inputSize, arch: 'auto', initialize: false }, (m) => expect(m.config.arch).toBe(arch));
    }
    // Explicit choices win over the input size.
    await withModel('resnet18', { inputSize: 224, arch: 'cifar', initialize: false }, (m) => expect((m as ResNet).conv1.kernelSize).toBe(3));
    await withModel('resnet18', { inputSize: 32, arch: 'imagenet', initialize: false }, (m) => expect((m as ResNet).conv1.kernelSize).toBe(7));
    await withModel('vgg16', { inputSize: 224, initialize: false }, (m) => expect(m.config.arch).toBe('cifar'));
    await withModel('s-vgg16', { width: 8, inputSize: 224, arch: 'cifar', initialize: false }, (m) => expect(m.config.arch).toBe('cifar'));
    expect(() => createModel('vgg16', { arch: 'imagenet' })).toThrow(/createModel\('vgg16'\): VGG-16 has only the CIFAR form; arch 'imagenet' applies to the ResNets/);
    expect(() => createModel('resnet18', { arch: 'imagenet224' as 'imagenet' })).toThrow(/createModel\('resnet18'\): arch must be 'cifar', 'imagenet' or 'auto', got 'imagenet224'/);
  });

  it('modelTable({ arch }) counts the ResNets in that form (VGG rows unchanged) and their C against it', () => {
    const rows = modelTable(1000, { widths: [32], arch: 'imagenet' });
    const total = (name: string) => rows.find((r) => r.name === name)!.total;
    expect([total('resnet18'), total('resnet34'), total('resnet50')]).toEqual([11_689_512, 21_797_672, 25_557_032]);
    expect(total('vgg16')).toBe(14_728_266 + 990 * 512 + 990);
    const sl50 = rows.find((r) => r.name === 'sl-resnet50')!;
    expect(sl50.total).toBe(imagenetExpected['sl-resnet50'](32) + 990 * 32 + 990);
    expect(sl50.compression).toBeCloseTo(25_557_032 / sl50.total, 8);
  });

  // Small inputs keep lavapipe quick: 48×48 → stem 24 → pool 12 → stages 12, 6, 3, 2 (BN still sees 8 values per channel).
  // The bottleneck baseline's body is the CIFAR form's (checked above); its ImageNet stem is resnet18's.
  const cases: [string, ModelOptions, Shape4][] = [
    ['resnet18', {}, [2, 3, 48, 48]],
    ['s-resnet18', { width: 8 }, [2, 3, 48, 48]],
    ['sl-resnet34', { width: 4, inChannels: 1 }, [2, 1, 48, 48]],
    ['sl-resnet18', { width: 4, fuseBlend: false }, [2, 3, 48, 48]],
    ['s-resnet50', { width: 8 }, [2, 3, 48, 48]],
    ['sl-resnet50', { width: 8 }, [2, 3, 48, 48]],
  ];
  for (const [name, options, shape] of cases) {
    it(`${name} ${JSON.stringify(options)} on [${shape}]: per-application shapes and logits against a float64 reference`, async () => {
      const numClasses = options.numClasses ?? 10;
      await withModel(name, { ...options, arch: 'imagenet', inputSize: shape[2], seed: 5 }, async (m) => {
        const xv = seeded(shape[0] * shape[1] * shape[2] * shape[3], 21);
        const x = tensor(xv, shape);
        const { y, trace } = tracedForward(m, x);
        const ref = imagenetReference(name, options.width, numClasses, await stateOf(m), xv, shape, options.fuseBlend ?? true);
        expect(trace).toEqual(ref.trace);
        expect(trace.slice(0, 3)).toEqual([
          `conv ${shape[1]}x48x48 s2 -> 2x${options.width ?? 64}x24x24`,
          `bn+relu 2x${options.width ?? 64}x24x24`,
          `maxpool k3 s2 2x${options.width ?? 64}x24x24 -> 2x${options.width ?? 64}x12x12`,
        ]);
        close(`${name} logits`, await y.toArray(), ref.logits);
        x.dispose();
        y.dispose();
      });
    });
  }

  it('backward through the 7×7 stride-2 stem and the overlapping max-pool: conv1.weight and shared.weight gradients = central differences of the float64 reference', async () => {
    const shape: Shape4 = [2, 3, 48, 48];
    await withModel('sl-resnet18', { width: 4, arch: 'imagenet', inputSize: 48, seed: 3 }, async (m) => {
      const xv = seeded(2 * 3 * 48 * 48, 8);
      const dy = seeded(20, 9);
      const state = await stateOf(m);
      const out = tidy(() => m.forward(tensor(xv, shape)));
      await out.backward(tensor(dy, [2, 10]));
      out.dispose();
      for (const [param, idx] of [
        ['conv1.weight', [0, 17, 48, 49 * 3 + 24, 4 * 147 - 1]],
        ['shared.weight', [0, 13, 40, 100, 143]],
      ] as const) {
        const p = m.namedParameters().find(([k]) => k === param)![1];
        expect(gradBufferCount(p)).toBe(1);
        const g = await p.grad!.toArray();
        const scale = Math.max(...g.map(Math.abs));
        expect(scale).toBeGreaterThan(0);
        const w0 = Float64Array.from(state.get(param)!);
        const loss = (w: Float64Array) => dot(imagenetReference('sl-resnet18', 4, 10, new Map<string, ArrayLike<number>>(state).set(param, w), xv, shape).logits, dy);
        const h = 1e-5;
        for (const i of idx) {
          const up = Float64Array.from(w0);
          up[i] += h;
          const down = Float64Array.from(w0);
          down[i] -= h;
          const fd = (loss(up) - loss(down)) / (2 * h);
          expect(Math.abs(g[i] - fd), `${param}[${i}]: GPU ${g[i]}, central difference ${fd}`).toBeLessThanOrEqual(2e-4 * scale);
        }
      }
    });
  });

  it('resnet18 (imagenet, 10 classes) trains one SGD step on [2, 3, 32, 32]: finite loss, finite non-zero gradients, weights move', async () => {
    await withModel('resnet18', { arch: 'imagenet', inputSize: 32, seed: 1 }, async (m) => {
      const r = m as ResNet;
      const before = await r.conv1.weight.toArray();
      const opt = new SGD(m.parameters(), { lr: 0.05, momentum: 0.9 });
      const x = randn([2, 3, 32, 32], { seed: 2 });
      const loss = tidy(() => {
        const l = crossEntropy(m.forward(x), [3, 7]);
        void l.backward();
        return l;
      });
      const value = await loss.item();
      expect(Number.isFinite(value)).toBe(true);
      expect(value).toBeGreaterThan(0);
      const g = await r.conv1.weight.grad!.toArray();
      expect(g.every(Number.isFinite)).toBe(true);
      expect(Math.max(...g.map(Math.abs))).toBeGreaterThan(0);
      const fcGrad = await r.fc.weight.grad!.toArray();
      expect(fcGrad.every(Number.isFinite)).toBe(true);
      opt.step();
      const after = await r.conv1.weight.toArray();
      expect(after.every(Number.isFinite)).toBe(true);
      expect(Array.from(after)).not.toEqual(Array.from(before));
      opt.zeroGrad();
      loss.dispose();
      x.dispose();
    });
  });

  it('checkpoints record the arch; old checkpoints (no arch) read as cifar; a checkpoint of the other form is refused by name', async () => {
    const info = (m: Model): CheckpointInfo => ({ model: m.name, width: m.config.width, numClasses: 10, inChannels: 3, inputSize: 32, stem: 'pad', dataset: 'x', epoch: 1, globalStep: 1 });
    const bytes = await withModel('s-resnet18', { width: 4, arch: 'imagenet' }, (m) => modelCheckpoint(m, info(m)));
    const meta = readSafetensorsHeader(bytes, 'ckpt').metadata;
    expect(meta.arch).toBe('imagenet');
    expect(parseInfo(meta, 'ckpt').arch).toBe('imagenet');
    const { arch: _arch, ...old } = meta;
    expect(parseInfo(old, 'old').arch).toBe('cifar');
    expect(() => parseInfo({ ...meta, arch: 'vit' }, 'bad.safetensors')).toThrow(/bad\.safetensors: metadata arch 'vit' is not 'cifar' or 'imagenet'/);
    // The same model rebuilt from the recorded arch loads; the CIFAR form is refused with a message naming both.
    await withModel('s-resnet18', { width: 4, arch: parseInfo(meta, 'ckpt').arch }, (m) => expect(loadModelCheckpoint(m, bytes, 'ckpt').arch).toBe('imagenet'));
    await withModel('s-resnet18', { width: 4 }, (m) => {
      expect(() => loadModelCheckpoint(m, bytes, 'ckpt.safetensors')).toThrow(CheckpointError);
      expect(() => loadModelCheckpoint(m, bytes, 'ckpt.safetensors')).toThrow(/ckpt\.safetensors: the checkpoint holds the imagenet form of s-resnet18 \(arch 'imagenet'\), the model here is the cifar form: build it with arch 'imagenet' \(--arch imagenet\)/);
    });
    // A CIFAR model records 'cifar'.
    const cifar = await withModel('resnet18', {}, (m) => modelCheckpoint(m, info(m)));
    expect(readSafetensorsHeader(cifar, 'c').metadata.arch).toBe('cifar');
  });
});
