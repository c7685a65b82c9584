import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The kernels are composed from shaders/src + shaders/lib before any test reads shaders/NAME.wgsl.
    globalSetup: ['./test/build-shaders.global.ts'],
    // One WebGPU device per worker; SwiftShader uses every core, so run files one at a time.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
