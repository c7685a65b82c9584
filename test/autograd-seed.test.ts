// Tensor.backward() reaches the engine through the hook it registers (src/tensor sits below src/autograd), and the
// root's gradient is seeded by a runtime copy / fill instead of an op kernel.
import { beforeAll, describe, expect, it } from 'vitest';
import { add, gradBufferCount, scale, tensor } from '../src/index.js';
import { gpu } from './setup.js';

beforeAll(async () => {
  await gpu();
});

describe('backward seed', () => {
  it('copies the seed into the root gradient and sends it through the graph', async () => {
    const a = tensor([1, 2, 3], [3], { requiresGrad: true });
    const y = scale(a, 2);
    await y.backward(tensor([0.5, -1, 4], [3]));
    expect(Array.from(await a.grad!.toArray())).toEqual([1, -2, 8]);
    expect(y.grad).toBeNull(); // an intermediate's gradient is freed once used
  });

  it('gradients of two backward passes through a leaf add up; a one-element root is seeded with 1', async () => {
    const w = tensor([3], [1], { requiresGrad: true });
    await add(w, w).backward();
    await scale(w, 5).backward();
    expect(Array.from(await w.grad!.toArray())).toEqual([7]);
    expect(gradBufferCount(w)).toBe(1);
  });

  it('a leaf root gets the seed as its gradient; a second backward on it is refused with advice', async () => {
    const x = tensor([1, 2], [2], { requiresGrad: true });
    await x.backward(tensor([3, 4], [2]));
    expect(Array.from(await x.grad!.toArray())).toEqual([3, 4]);
    expect(() => x.backward(tensor([1, 1], [2]))).toThrow(/already holds a gradient.*scale\(x, 1\)/);
    await scale(x, 1).backward(tensor([1, 1], [2]));
    expect(Array.from(await x.grad!.toArray())).toEqual([4, 5]);
  });

  it('checks the seed shape and that the root needs gradients', () => {
    const a = tensor([1, 2], [2], { requiresGrad: true });
    expect(() => scale(a, 2).backward(tensor([1, 2, 3], [3]))).toThrow(/seed gradient shape \[3\] does not match tensor shape \[2\]/);
    expect(() => scale(a, 2).backward()).toThrow(/needs a one-element tensor/);
    expect(() => tensor([1], [1]).backward()).toThrow(/does not require grad/);
  });
});
