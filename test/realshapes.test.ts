import { beforeAll, describe, it } from 'vitest';
import { batchNormRelu, conv2d, maxPool2d, tensor } from '../src/index.js';
import { conv2dRef, conv2dBackwardRef, seeded, type RefConv } from './reference/conv.js';
import { batchNormRef, batchNormBackwardRef, maxPoolRef, maxPoolBackwardRef, type Shape4 } from './reference/norm_pool.js';
import { gpu } from './setup.js';
import { close } from './close.js';

// The unit tests use small shapes; these check the kernels (and their fast paths) at the sizes a training
// step really runs: batch 4 of 32×32 with 16 channels, as in s-vgg16 (n = 16) on MNIST.
beforeAll(async () => {
  await gpu();
});


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
    close('y', await y.toArray(), conv2dRef(s, xv, wv, bv));
    await y.backward(tensor(dyv, [4, 16, 32, 32]));
    const ref = conv2dBackwardRef(s, xv, wv, dyv);
    close('dx', await x.grad!.toArray(), ref.dx);
    close('dw', await w.grad!.toArray(), ref.dw);
    close('db', await b.grad!.toArray(), ref.db);
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
    close('bn y', await y.toArray(), batchNormRef(xv, s, { weight: gv, bias: bv, relu: true }).y);
    await y.backward(tensor(dyv, [...s]));
    const ref = batchNormBackwardRef(xv, s, dyv, { weight: gv, bias: bv, relu: true });
    close('bn dx', await x.grad!.toArray(), ref.dx);
    close('bn dweight', await g.grad!.toArray(), ref.dw);
    close('bn dbias', await b.grad!.toArray(), ref.db);

    const x2 = tensor(xv, [...s], { requiresGrad: true });
    const p = maxPool2d(x2, { kernelSize: 2 });
    close('pool y', await p.toArray(), maxPoolRef(xv, s, { kernelSize: 2, stride: 2, padding: 0 }).y);
    const dp = seeded(4 * 16 * 16 * 16, 9);
    await p.backward(tensor(dp, [4, 16, 16, 16]));
    close('pool dx', await x2.grad!.toArray(), maxPoolBackwardRef(xv, s, dp, { kernelSize: 2, stride: 2, padding: 0 }));
  });
});
