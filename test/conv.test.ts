import { describe, expect, it } from 'vitest';
import { type Tensor, conv2d, keep, tensor } from '../src/index.js';
import { type ConvGeom, type ConvPass, CONV_VARIANTS, adapterKind, choose, withVariant } from '../src/ops/conv/index.js';
import { dispatchedEntries, gpu } from './setup.js';
import { close } from './close.js';
import { type RefConv, conv2dBackwardRef, conv2dRef, outSize, seeded } from './reference/conv.js';

// At collection time: which variant applies to which case depends on the adapter.
await gpu();


const CASES: (RefConv & { bias: boolean })[] = [
  { N: 2, C: 3, H: 5, W: 7, O: 5, KH: 3, KW: 3, stride: 1, pad: 1, bias: true },
  { N: 1, C: 5, H: 5, W: 7, O: 6, KH: 3, KW: 3, stride: 2, pad: 1, bias: true },
  { N: 2, C: 6, H: 7, W: 5, O: 3, KH: 1, KW: 1, stride: 1, pad: 0, bias: false },
  { N: 1, C: 3, H: 6, W: 6, O: 10, KH: 3, KW: 3, stride: 2, pad: 0, bias: true },
  { N: 2, C: 9, H: 5, W: 5, O: 12, KH: 3, KW: 3, stride: 1, pad: 0, bias: true },
  { N: 2, C: 5, H: 7, W: 6, O: 3, KH: 1, KW: 1, stride: 2, pad: 1, bias: true },
  // Several workgroups along positions, and a weight gradient split over K (partials + reduction).
  { N: 2, C: 3, H: 17, W: 19, O: 4, KH: 3, KW: 3, stride: 1, pad: 1, bias: true },
  { N: 2, C: 16, H: 12, W: 11, O: 16, KH: 3, KW: 3, stride: 2, pad: 1, bias: false },
  // Stride 3 with unequal phase classes (H, W not multiples of 3) and a pad of 2: the input gradient's classes.
  { N: 2, C: 4, H: 7, W: 8, O: 5, KH: 3, KW: 3, stride: 3, pad: 2, bias: true },
  // The fast 3×3 / stride 1 / pad 1 / W % 4 == 0 path: rows per invocation R = 4, 2 and 1, O not a multiple of 8.
  { N: 2, C: 3, H: 8, W: 8, O: 5, KH: 3, KW: 3, stride: 1, pad: 1, bias: true },
  { N: 2, C: 9, H: 10, W: 12, O: 11, KH: 3, KW: 3, stride: 1, pad: 1, bias: true },
  { N: 1, C: 12, H: 5, W: 4, O: 4, KH: 3, KW: 3, stride: 1, pad: 1, bias: false },
  { N: 1, C: 16, H: 4, W: 4, O: 16, KH: 3, KW: 3, stride: 1, pad: 1, bias: true },
  // The wide fast block (software default): 16-channel groups with padding (O = 20, 9; C = 12), two vec4 columns.
  { N: 2, C: 5, H: 8, W: 16, O: 20, KH: 3, KW: 3, stride: 1, pad: 1, bias: true },
  { N: 1, C: 12, H: 4, W: 8, O: 9, KH: 3, KW: 3, stride: 1, pad: 1, bias: false },
  // Fast weight gradient: 2 channel blocks × 5, one image per split, 3 vec4 columns (left, middle, right edge).
  { N: 5, C: 7, H: 6, W: 12, O: 18, KH: 3, KW: 3, stride: 1, pad: 1, bias: true },
  // The subgroup kernels (lavapipe): in channels a multiple of 8 over 3 subgroups and 2 out blocks (the last one
  // part-filled, O = 6), 3 vec4 columns; and a forward with 24 out channels.
  { N: 3, C: 24, H: 6, W: 12, O: 6, KH: 3, KW: 3, stride: 1, pad: 1, bias: true },
  { N: 2, C: 8, H: 8, W: 8, O: 24, KH: 3, KW: 3, stride: 1, pad: 1, bias: false },
  // Rows of 8 vec4 columns: one subgroup of 8 lanes per row (the shuffled taps' widest case).
  { N: 1, C: 8, H: 4, W: 32, O: 9, KH: 3, KW: 3, stride: 1, pad: 1, bias: true },
];

function name(s: RefConv & { bias: boolean }): string {
  return `x [${s.N},${s.C},${s.H},${s.W}] w [${s.O},${s.C},${s.KH},${s.KW}] stride ${s.stride} pad ${s.pad}${s.bias ? ' +bias' : ''}`;
}

describe('conv2d vs float64 CPU reference', () => {
  for (const s of CASES) {
    it(name(s), async () => {
      const [OH, OW] = outSize(s);
      const xv = seeded(s.N * s.C * s.H * s.W, 1);
      const wv = seeded(s.O * s.C * s.KH * s.KW, 2);
      const bv = seeded(s.O, 3);
      const dyv = seeded(s.N * s.O * OH * OW, 4);
      const x = tensor(xv, [s.N, s.C, s.H, s.W], { requiresGrad: true });
      const w = tensor(wv, [s.O, s.C, s.KH, s.KW], { requiresGrad: true });
      const b: Tensor | null = s.bias ? tensor(bv, [s.O], { requiresGrad: true }) : null;
      const y = conv2d(x, w, b, { stride: s.stride, padding: s.pad });
      expect(y.shape).toEqual([s.N, s.O, OH, OW]);
      close('forward', await y.toArray(), conv2dRef(s, xv, wv, s.bias ? bv : null));
      await y.backward(tensor(dyv, y.shape));
      const ref = conv2dBackwardRef(s, xv, wv, dyv);
      close('dx', await x.grad!.toArray(), ref.dx);
      close('dw', await w.grad!.toArray(), ref.dw);
      if (b) close('db', await b.grad!.toArray(), ref.db);
    });
  }

  /** Forward, dx, dw and db of case s against the CPU reference, with the named variant forced where it applies. */
  async function checkVariant(s: RefConv & { bias: boolean }, variant: string): Promise<void> {
    const [OH, OW] = outSize(s);
    const g = { N: s.N, C: s.C, H: s.H, W: s.W, O: s.O, KH: s.KH, KW: s.KW, OH, OW, sh: s.stride, sw: s.stride, ph: s.pad, pw: s.pad };
    const xv = seeded(s.N * s.C * s.H * s.W, 11);
    const wv = seeded(s.O * s.C * s.KH * s.KW, 12);
    const bv = seeded(s.O, 13);
    const dyv = seeded(s.N * s.O * OH * OW, 14);
    await withVariant(variant, async () => {
      // The forced row is the one that runs, for every pass it applies to.
      for (const pass of ['forward', 'inputGrad', 'weightGrad'] as const) {
        if (appliesTo(variant, pass, g)) expect(choose(pass, g).name, pass).toBe(variant);
      }
      const x = tensor(xv, [s.N, s.C, s.H, s.W], { requiresGrad: true });
      const w = tensor(wv, [s.O, s.C, s.KH, s.KW], { requiresGrad: true });
      const b = s.bias ? tensor(bv, [s.O], { requiresGrad: true }) : null;
      const y = conv2d(x, w, b, { stride: s.stride, padding: s.pad });
      close('forward', await y.toArray(), conv2dRef(s, xv, wv, s.bias ? bv : null));
      await y.backward(tensor(dyv, y.shape));
      const ref = conv2dBackwardRef(s, xv, wv, dyv);
      close('dx', await x.grad!.toArray(), ref.dx);
      close('dw', await w.grad!.toArray(), ref.dw);
      if (b) close('db', await b.grad!.toArray(), ref.db);
    });
  }

  function appliesTo(variant: string, pass: ConvPass, g: ConvGeom): boolean {
    return CONV_VARIANTS[pass].some((r) => r.name === variant && r.applies(g, adapterKind()));
  }

  // Every row of the variant table, forced, on every case it applies to (on this adapter), for every pass.
  const names = [...new Set(Object.values(CONV_VARIANTS).flatMap((rows) => rows.map((r) => r.name)))];
  for (const variant of names) {
    for (const s of CASES) {
      const [OH, OW] = outSize(s);
      const g = { N: s.N, C: s.C, H: s.H, W: s.W, O: s.O, KH: s.KH, KW: s.KW, OH, OW, sh: s.stride, sw: s.stride, ph: s.pad, pw: s.pad };
      it.skipIf(!(['forward', 'inputGrad', 'weightGrad'] as const).some((p) => appliesTo(variant, p, g)))(`variant ${variant}: ${name(s)}`, () => checkVariant(s, variant));
    }
  }

  it('withVariant is scoped: the choice is restored after fn returns, throws or its promise settles; unknown names throw', async () => {
    const g = { N: 2, C: 8, H: 8, W: 8, O: 8, KH: 3, KW: 3, OH: 8, OW: 8, sh: 1, sw: 1, ph: 1, pw: 1 };
    const auto = choose('forward', g).name;
    expect(withVariant('general', () => choose('forward', g).name)).toBe('general');
    expect(choose('forward', g).name).toBe(auto);
    expect(() => withVariant('general', () => { throw new Error('boom'); })).toThrow('boom');
    expect(choose('forward', g).name).toBe(auto);
    await withVariant('fast-r1', async () => {
      await Promise.resolve();
      expect(choose('forward', g).name).toBe('fast-r1');
      // A row that does not apply (fast-r1 has no weight-gradient row) leaves that pass to the table.
      expect(choose('weightGrad', g).name).toBe(choose('weightGrad', g, adapterKind()).name);
    });
    expect(choose('forward', g).name).toBe(auto);
    expect(() => withVariant('fast-r3', () => 0)).toThrow(/no conv variant named 'fast-r3'/);
  });

  it('every adapter kind has a ranked row for every pass and geometry; every row cites its evidence', () => {
    const geoms = [
      { N: 2, C: 8, H: 8, W: 8, O: 8, KH: 3, KW: 3, OH: 8, OW: 8, sh: 1, sw: 1, ph: 1, pw: 1 },
      { N: 2, C: 8, H: 7, W: 5, O: 8, KH: 1, KW: 1, OH: 7, OW: 5, sh: 1, sw: 1, ph: 0, pw: 0 },
      { N: 2, C: 8, H: 8, W: 8, O: 8, KH: 3, KW: 3, OH: 4, OW: 4, sh: 2, sw: 2, ph: 1, pw: 1 },
    ];
    for (const adapter of ['gpu', 'lavapipe', 'swiftshader', 'software'] as const) {
      for (const pass of ['forward', 'inputGrad', 'weightGrad'] as const) for (const g of geoms) expect(choose(pass, g, adapter).pass).toBe(pass);
    }
    for (const rows of Object.values(CONV_VARIANTS)) for (const r of rows) expect(r.evidence.length, r.name).toBeGreaterThan(0);
    // lavapipe never gets the wide block (minutes of LLVM time, issue 13).
    expect(CONV_VARIANTS.forward.find((r) => r.name === 'fast-wide')!.applies(geoms[0], 'lavapipe')).toBe(false);
  });

  it('gradients accumulate (+=) over two backward passes, only into inputs that require grad', async () => {
    const s: RefConv = { N: 1, C: 4, H: 6, W: 5, O: 3, KH: 3, KW: 3, stride: 1, pad: 1 };
    const xv = seeded(s.N * s.C * s.H * s.W, 5);
    const wv = seeded(s.O * s.C * 9, 6);
    const dyv = seeded(s.N * s.O * s.H * s.W, 7);
    const x = tensor(xv, [1, 4, 6, 5]);
    const w = tensor(wv, [3, 4, 3, 3], { requiresGrad: true });
    for (let k = 0; k < 2; k++) await conv2d(x, w, null, { padding: 1 }).backward(tensor(dyv, [1, 3, 6, 5]));
    expect(x.grad).toBeNull();
    const ref = conv2dBackwardRef(s, xv, wv, dyv);
    close('dw twice', await w.grad!.toArray(), ref.dw.map((v) => 2 * v));
  });

  // dx's first contribution is written (=, the buffer comes from freshGrad uninitialised: checkVariant above); a
  // later one must add (+=). db rides along with the weight gradient's pass (no bias_grad dispatch) and must add
  // too. Every input- and weight-gradient row, starting from non-zero gradient buffers.
  const ACC_CASES: RefConv[] = [
    { N: 2, C: 5, H: 8, W: 8, O: 6, KH: 3, KW: 3, stride: 1, pad: 1 },
    { N: 2, C: 4, H: 7, W: 6, O: 5, KH: 3, KW: 3, stride: 2, pad: 1 },
  ];
  const gradRows = [...new Set([...CONV_VARIANTS.inputGrad, ...CONV_VARIANTS.weightGrad].map((r) => r.name))];
  for (const variant of gradRows) {
    for (const s of ACC_CASES) {
      const [OH, OW] = outSize(s);
      const g = { N: s.N, C: s.C, H: s.H, W: s.W, O: s.O, KH: 3, KW: 3, OH, OW, sh: s.stride, sw: s.stride, ph: s.pad, pw: s.pad };
      it.skipIf(!appliesTo(variant, 'inputGrad', g) && !appliesTo(variant, 'weightGrad', g))(`variant ${variant} adds dx, dw and db into non-zero buffers: ${name({ ...s, bias: true })}`, async () => {
        await withVariant(variant, async () => {
          const xv = seeded(s.N * s.C * s.H * s.W, 51);
          const wv = seeded(s.O * s.C * 9, 52);
          const dyv = seeded(s.N * s.O * OH * OW, 53);
          const x0 = seeded(xv.length, 54);
          const w0 = seeded(wv.length, 55).map((v) => 3 * v);
          const b0 = seeded(s.O, 56).map((v) => 5 * v);
          const x = tensor(xv, [s.N, s.C, s.H, s.W], { requiresGrad: true });
          const w = tensor(wv, [s.O, s.C, 3, 3], { requiresGrad: true });
          const b = tensor(seeded(s.O, 57), [s.O], { requiresGrad: true });
          x.grad = keep(tensor(x0, x.shape));
          w.grad = keep(tensor(w0, w.shape));
          b.grad = keep(tensor(b0, b.shape));
          const y = conv2d(x, w, b, { stride: s.stride, padding: s.pad });
          const entries = await dispatchedEntries(() => y.backward(tensor(dyv, y.shape)));
          expect(entries).not.toContain('conv2d_backward_weight.bias_grad');
          const ref = conv2dBackwardRef(s, xv, wv, dyv);
          close('dx', await x.grad!.toArray(), ref.dx.map((v, i) => x0[i] + v));
          close('dw', await w.grad!.toArray(), ref.dw.map((v, i) => w0[i] + v));
          close('db', await b.grad!.toArray(), ref.db.map((v, i) => b0[i] + v));
        });
      });
    }
  }

  // The 3×3 / stride 1 / pad 1 / W % 4 == 0 / H even weight gradient (fastWeightGrad: partial sums per batch
  // split, then reduce_partials into dw) must ADD to a gradient buffer that already holds values, as every
  // backward rule does (a shared weight's earlier uses, an earlier backward). Starting from zero, as the cases
  // above do, an overwrite (dw = Σ) would pass; here the buffers start non-zero.
  for (const [label, variant] of [
    ['one split', 'fast-1split'],
    ['one split per image', 'fast-per-image'],
  ] as const) {
    it(`fast path adds dw and dx into non-zero gradient buffers (${label})`, async () => {
      const s: RefConv = { N: 3, C: 6, H: 6, W: 8, O: 5, KH: 3, KW: 3, stride: 1, pad: 1 };
      await withVariant(variant, async () => {
        const xv = seeded(s.N * s.C * s.H * s.W, 41);
        const wv = seeded(s.O * s.C * 9, 42);
        const dyv = seeded(s.N * s.O * s.H * s.W, 43);
        const dw0 = seeded(wv.length, 44).map((v) => 4 * v);
        const dx0 = seeded(xv.length, 45);
        const x = tensor(xv, [s.N, s.C, s.H, s.W], { requiresGrad: true });
        const w = tensor(wv, [s.O, s.C, 3, 3], { requiresGrad: true });
        // What an earlier use left in the gradient buffers (gradOf() adds into an existing .grad).
        w.grad = keep(tensor(dw0, w.shape));
        x.grad = keep(tensor(dx0, x.shape));
        const y = conv2d(x, w, null, { padding: 1 });
        const entries = await dispatchedEntries(() => y.backward(tensor(dyv, y.shape)));
        expect(entries).toContain('conv2d_backward_weight.main_fast_split');
        expect(entries).not.toContain('conv2d_backward_weight.main_direct');
        const ref = conv2dBackwardRef(s, xv, wv, dyv);
        const dwWant = ref.dw.map((v, i) => dw0[i] + v);
        const dxWant = ref.dx.map((v, i) => dx0[i] + v);
        // The starting values are large against the 1e-4 tolerance: an overwrite (or a doubled start) fails.
        expect(Math.max(...dw0.map(Math.abs))).toBeGreaterThan(0.1 * Math.max(...dwWant.map(Math.abs)));
        close('dw = start + Σ', await w.grad!.toArray(), dwWant);
        close('dx = start + Σ', await x.grad!.toArray(), dxWant);
      });
    });
  }

  it('rectangular stride and padding', async () => {
    const s = { N: 1, C: 2, H: 7, W: 6, O: 3, KH: 3, KW: 3 };
    const xv = seeded(s.N * s.C * s.H * s.W, 8);
    const wv = seeded(s.O * s.C * 9, 9);
    const y = conv2d(tensor(xv, [1, 2, 7, 6]), tensor(wv, [3, 2, 3, 3]), null, { stride: [2, 1], padding: [0, 1] });
    // Reference: pad W by one column on each side, then stride 2 along H only.
    expect(y.shape).toEqual([1, 3, 3, 6]);
    const got = await y.toArray();
    const want = new Float64Array(3 * 3 * 6);
    for (let o = 0; o < 3; o++)
      for (let oh = 0; oh < 3; oh++)
        for (let ow = 0; ow < 6; ow++) {
          let acc = 0;
          for (let c = 0; c < 2; c++)
            for (let kh = 0; kh < 3; kh++)
              for (let kw = 0; kw < 3; kw++) {
                const ih = oh * 2 + kh;
                const iw = ow - 1 + kw;
                if (iw >= 0 && iw < 6) acc += wv[((o * 2 + c) * 3 + kh) * 3 + kw] * xv[(c * 7 + ih) * 6 + iw];
              }
          want[(o * 3 + oh) * 6 + ow] = acc;
        }
    close('forward [2,1]/[0,1]', got, want);
  });

  it('mismatched channels throw naming conv2d and both shapes', () => {
    const x = tensor(new Float32Array(2 * 3 * 4 * 4), [2, 3, 4, 4]);
    const w = tensor(new Float32Array(5 * 4 * 9), [5, 4, 3, 3]);
    expect(() => conv2d(x, w, null)).toThrow(/conv2d.*\[2, 3, 4, 4\].*\[5, 4, 3, 3\]/);
    expect(() => conv2d(x, tensor(new Float32Array(5 * 3 * 9), [5, 3, 3, 3]), tensor([1, 2], [2]))).toThrow(/conv2d: bias \[2\]/);
    expect(() => conv2d(x, tensor(new Float32Array(5 * 3 * 25), [5, 3, 5, 5]))).toThrow(/conv2d: kernel 5×5/);
    expect(() => conv2d(x, tensor(new Float32Array(5 * 3 * 9), [5, 3, 3, 3]), null, { stride: 0 })).toThrow(/conv2d: stride/);
  });
});

describe('conv2d CPU reference vs central finite differences (float64)', () => {
  it('dx, dw, db', () => {
    const s: RefConv = { N: 2, C: 2, H: 4, W: 5, O: 3, KH: 3, KW: 3, stride: 2, pad: 1 };
    const x = Float64Array.from(seeded(s.N * s.C * s.H * s.W, 11));
    const w = Float64Array.from(seeded(s.O * s.C * 9, 12));
    const b = Float64Array.from(seeded(s.O, 13));
    const [OH, OW] = outSize(s);
    const dy = Float64Array.from(seeded(s.N * s.O * OH * OW, 14));
    const loss = () => conv2dRef(s, x, w, b).reduce((acc, v, i) => acc + v * dy[i], 0);
    const g = conv2dBackwardRef(s, x, w, dy);
    const h = 1e-6;
    for (const [arr, grad, what] of [[x, g.dx, 'dx'], [w, g.dw, 'dw'], [b, g.db, 'db']] as const) {
      for (let i = 0; i < arr.length; i++) {
        const v = arr[i];
        arr[i] = v + h;
        const lp = loss();
        arr[i] = v - h;
        const lm = loss();
        arr[i] = v;
        expect(Math.abs((lp - lm) / (2 * h) - grad[i]), `${what}[${i}]`).toBeLessThan(1e-6);
      }
    }
  });
});
