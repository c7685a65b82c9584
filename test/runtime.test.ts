import { beforeAll, describe, expect, it } from 'vitest';
import { runtime, ones, empty, GPUOpError, ShaderCompileError, context } from '../src/index.js';
import { loadShaders, shaderUrl } from '../src/gpu/shaders.js';
import { sizeClass } from '../src/gpu/pool.js';
import { gpu } from './setup.js';

beforeAll(async () => {
  await gpu();
});

describe('kernel runtime', () => {
  it('a dispatch missing a binding fails naming the op, shader and binding', () => {
    const out = empty([4]);
    expect(() => runtime().dispatch({ op: 'test.add', kernel: 'elementwise', entry: 'add', buffers: { a: ones([4]), out }, params: { n4: 1, alpha: 1 }, workgroups: 1 })).toThrow(
      /op 'test.add', shaders\/elementwise\.wgsl entry 'add': binding 'b' \(@binding\(2\)\) was not given a buffer/,
    );
  });

  it('an unknown binding, a bad uniform member and aliasing a written buffer are refused', () => {
    const a = ones([4]);
    const out = empty([4]);
    expect(() => runtime().dispatch({ op: 't', kernel: 'elementwise', entry: 'add', buffers: { a, b: a, out, nope: a }, params: { n4: 1, alpha: 1 }, workgroups: 1 })).toThrow(/no storage binding named 'nope'/);
    expect(() => runtime().dispatch({ op: 't', kernel: 'elementwise', entry: 'add', buffers: { a, b: a, out }, params: { n: 1, alpha: 1 }, workgroups: 1 })).toThrow(/uniform 'p' has no member 'n'/);
    expect(() => runtime().dispatch({ op: 't', kernel: 'elementwise', entry: 'add', buffers: { a, b: ones([4]), out: a }, params: { n4: 1, alpha: 1 }, workgroups: 1 })).toThrow(/same buffer is bound to 'a' and 'out'/);
    expect(() => runtime().dispatch({ op: 't', kernel: 'elementwise', entry: 'nope', buffers: {}, workgroups: 1 })).toThrow(/no compute entry point 'nope'/);
  });

  it('a shader that fails to compile is reported with its file and line', async () => {
    const broken = async (url: URL) => {
      if (url.href === shaderUrl('fill').href) return 'struct Params { n: u32 };\n@group(0) @binding(0) var<uniform> p: Params;\n@compute @workgroup_size(1) fn main() { let x: f32 = undefined_thing; }\n';
      return context().platform.readText(url);
    };
    const err = await loadShaders(context().device, broken).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ShaderCompileError);
    expect((err as Error).message).toMatch(/shaders\/fill\.wgsl:3:\d+: .*undefined_thing/);
  });

  it('pools buffers by size class and reuses them', () => {
    expect(sizeClass(1)).toBe(256);
    expect(sizeClass(1000)).toBe(1024);
    expect(sizeClass(1025)).toBe(1280);
    const before = runtime().memoryStats();
    const t = empty([300]);
    const afterAlloc = runtime().memoryStats();
    expect(afterAlloc.liveBytes - before.liveBytes).toBe(sizeClass(1200));
    t.dispose();
    const u = empty([290]);
    // Same size class: the pooled buffer comes back, no new one is created.
    expect(runtime().memoryStats().pooledBuffers).toBe(afterAlloc.pooledBuffers);
    u.dispose();
  });

  it('workgroup counts over the limit are refused before they reach the GPU', () => {
    expect(() => runtime().dispatch({ op: 'test.too-many', kernel: 'fill', buffers: { out: empty([4]) }, params: { n: 4, value: 1 }, workgroups: [70000, 1, 1] })).toThrow(/test\.too-many.*70000/);
  });

  // Last in this file: a GPU error poisons the runtime on purpose (every later op reports it).
  it('a GPU validation error surfaces as an exception naming the op, at the next sync point', async () => {
    const t = ones([8]);
    t.gpuBuffer.destroy();
    runtime().dispatch({ op: 'test.destroyed-buffer', kernel: 'fill', buffers: { out: t }, params: { n: 8, value: 2 }, workgroups: 1 });
    await expect(runtime().sync()).rejects.toThrow(/GPU validation error in a batch of ops \[.*test\.destroyed-buffer/);
    expect(() => ones([2])).toThrow(GPUOpError);
  });
});
