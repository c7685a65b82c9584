import { beforeAll, describe, expect, it } from 'vitest';
import { type Tensor, blend, tensor } from '../src/index.js';
import { gpu } from './setup.js';
import { close } from './close.js';
import { blendRef, blendShape, conv2dBackwardRef, seeded } from './reference/conv.js';

beforeAll(async () => {
  await gpu();
});


const CASES = [
  { N: 2, C: 5, H: 5, W: 7, O: 3, bias: true },
  { N: 1, C: 6, H: 3, W: 5, O: 6, bias: false },
  { N: 2, C: 10, H: 4, W: 3, O: 9, bias: true },
  // Several workgroups along positions and a split-K reduction for dm.
  { N: 2, C: 3, H: 16, W: 20, O: 5, bias: true },
];

describe('blend vs float64 CPU reference', () => {
  for (const s of CASES) {
    it(`x [${s.N},${s.C},${s.H},${s.W}] m [${s.O},${s.C}]${s.bias ? ' +bias' : ''}`, async () => {
      const xv = seeded(s.N * s.C * s.H * s.W, 21);
      const mv = seeded(s.O * s.C, 22);
      const bv = seeded(s.O, 23);
      const dyv = seeded(s.N * s.O * s.H * s.W, 24);
      const x = tensor(xv, [s.N, s.C, s.H, s.W], { requiresGrad: true });
      const m = tensor(mv, [s.O, s.C], { requiresGrad: true });
      const b: Tensor | null = s.bias ? tensor(bv, [s.O], { requiresGrad: true }) : null;
      const y = blend(x, m, b);
      expect(y.shape).toEqual([s.N, s.O, s.H, s.W]);
      close('forward', await y.toArray(), blendRef(s.N, s.C, s.H, s.W, s.O, xv, mv, s.bias ? bv : null));
      await y.backward(tensor(dyv, y.shape));
      const ref = conv2dBackwardRef(blendShape(s.N, s.C, s.H, s.W, s.O), xv, mv, dyv);
      close('dx', await x.grad!.toArray(), ref.dx);
      close('dm', await m.grad!.toArray(), ref.dw);
      if (b) close('db', await b.grad!.toArray(), ref.db);
    });
  }

  it('the reference blend is Σ_i m[o,i]·x[b,i,h,w] (checked by hand)', () => {
    // x: N=1, C=2, H=1, W=2; m: [[1, 2], [3, -1]]
    const y = blendRef(1, 2, 1, 2, 2, [1, 2, 10, 20], [1, 2, 3, -1], [0.5, 0]);
    expect(Array.from(y)).toEqual([1 + 20 + 0.5, 2 + 40 + 0.5, 3 - 10, 6 - 20]);
  });

  it('bad shapes throw naming blend and the shapes', () => {
    const x = tensor(new Float32Array(2 * 3 * 2 * 2), [2, 3, 2, 2]);
    expect(() => blend(x, tensor(new Float32Array(8), [2, 4]))).toThrow(/blend: x \[2, 3, 2, 2\].*m \[2, 4\]/);
    expect(() => blend(x, tensor(new Float32Array(6), [2, 3]), tensor([1, 2, 3], [3]))).toThrow(/blend: bias \[3\]/);
    expect(() => blend(x, tensor(new Float32Array(6), [6]))).toThrow(/blend: m must be 2-D/);
  });
});
