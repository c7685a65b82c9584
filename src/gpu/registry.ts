/**
 * Every GPU program onelayer runs: one file each in shaders/NAME.wgsl. init() loads and compiles them all,
 * so a broken shader fails at start-up with its file and line, not in the middle of training.
 */
export const KERNELS = [
  'fill',
  'elementwise',
  'conv2d_forward', 'conv2d_tiled', 'conv2d_backward_input', 'conv2d_backward_weight',
  'batchnorm', 'pool', 'pad',
  'linear', 'cross_entropy', 'reduce', 'sgd',
  'fold_blend',
] as const;

export type KernelName = (typeof KERNELS)[number] | OptionalKernelName;

/**
 * Kernels that need device features (their WGSL `enable`s them): init() loads each only where the device has all,
 * and only variants that check `hasKernel` dispatch them.
 */
export const OPTIONAL_KERNELS = {
  conv2d_forward_sg: ['subgroups'],
  conv2d_backward_weight_sg: ['subgroups'],
  // The conv kernels' f16 twins (mixed precision: f16 operands, f32 sums and outputs; src/ops/conv/variants.ts).
  conv2d_forward_h: ['shader-f16'],
  conv2d_backward_input_h: ['shader-f16'],
  conv2d_backward_weight_h: ['shader-f16'],
  conv2d_tiled_h: ['shader-f16'],
  conv2d_forward_sg_h: ['shader-f16', 'subgroups'],
  conv2d_backward_weight_sg_h: ['shader-f16', 'subgroups'],
  cast: ['shader-f16'],
  // foldBlend with an f16 folded weight (src/ops/fold.ts).
  fold_blend_h: ['shader-f16'],
  linear_h: ['shader-f16'],
} as const satisfies Record<string, readonly GPUFeatureName[]>;

export type OptionalKernelName = keyof typeof OPTIONAL_KERNELS;

