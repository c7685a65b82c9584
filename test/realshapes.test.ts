import { beforeAll, describe, expect, it } from 'vitest';
import { batchNormRelu, conv2d, maxPool2d, tensor } from '../src/index.js';
import { conv2dRef, conv2dBackwardRef, seeded, type RefConv } from './reference/conv.js';
import { batchNormRef, batchNormBackwardRef, maxPoolRef, maxPoolBackwardRef, type Shape4 } from './reference/norm_pool.js';
import { gpu } from './setup.js';

// The unit tests use small shapes; these check the kernels (and their fast paths) at the sizes a training
// step really runs: batch 4 of 32×32 with 16 channels, as in s-vgg16 (n = 16) on MNIST.
beforeAll(async () => {
  await gpu();
});

function close(got: Float32Array, ref: ArrayLike<number>, what: string): void {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < got.length; i++) {
    scale = Math.max(scale, Math.abs(ref[i]));
    err = Math.max(err, Math.abs(got[i] - ref[i]));
  }
  expect(err, `${what}: max error ${err} against max |ref| ${scale}`).toBeLessThanOrEqual(1e-4 * scale);
}

describe('kernels at training-step shapes', () => {
  it('conv2d 3×3 pad 1, [4,16,32,32] → 16 channels: output and all gradients', async () => {
    const s: RefConv = { N: 4, C: 16, H: 32, W: 32, O: 16, KH: 3, KW: 3, stride: 1, pad: 1 };
    const xv = seeded(4 * 16 * 32 * 32, 1);
    const wv = seeded(16 * 16 * 9, 2);
    const bv = seeded(16, 3);
    const dyv = seeded(4 * 16 * 32 * 32, 4);
    const x = tensor(xv, [4, 16, 32, 32], { requiresGrad: true });
    const w = tensor(wv, [16, 16, 3, 3], { requiresGrad: true });
    const b = tensor(bv, [16], { requiresGrad: true });
    const y = conv2d(x, w, b, { padding: 1 });
    close(await y.toArray(), conv2dRef(s, xv, wv, bv), 'y');
    await y.backward(tensor(dyv, [4, 16, 32, 32]));
    const ref = conv2dBackwardRef(s, xv, wv, dyv);
    close(await x.grad!.toArray(), ref.dx, 'dx');
    close(await w.grad!.toArray(), ref.dw, 'dw');
    close(await b.grad!.toArray(), ref.db, 'db');
  });

  it('batchNormRelu and maxPool2d at [4,16,32,32]', async () => {
    const s: Shape4 = [4, 16, 32, 32];
    const xv = seeded(4 * 16 * 32 * 32, 5);
    const gv = seeded(16, 6).map((v) => 1 + v);
    const bv = seeded(16, 7);
    const dyv = seeded(4 * 16 * 32 * 32, 8);
    const x = tensor(xv, [...s], { requiresGrad: true });
    const g = tensor(gv, [16], { requiresGrad: true });
    const b = tensor(bv, [16], { requiresGrad: true });
    const y = batchNormRelu(x, { weight: g, bias: b, training: true });
    close(await y.toArray(), batchNormRef(xv, s, { weight: gv, bias: bv, relu: true }).y, 'bn y');
    await y.backward(tensor(dyv, [...s]));
    const ref = batchNormBackwardRef(xv, s, dyv, { weight: gv, bias: bv, relu: true });
    close(await x.grad!.toArray(), ref.dx, 'bn dx');
    close(await g.grad!.toArray(), ref.dw, 'bn dweight');
    close(await b.grad!.toArray(), ref.db, 'bn dbias');

    const x2 = tensor(xv, [...s], { requiresGrad: true });
    const p = maxPool2d(x2, { kernelSize: 2 });
    close(await p.toArray(), maxPoolRef(xv, s, { kernelSize: 2, stride: 2, padding: 0 }).y, 'pool y');
    const dp = seeded(4 * 16 * 16 * 16, 9);
    await p.backward(tensor(dp, [4, 16, 16, 16]));
    close(await x2.grad!.toArray(), maxPoolBackwardRef(xv, s, dp, { kernelSize: 2, stride: 2, padding: 0 }), 'pool dx');
  });
});
