/**
 * Every GPU program onelayer runs: one file each in shaders/NAME.wgsl. init() loads and compiles them all,
 * so a broken shader fails at start-up with its file and line, not in the middle of training.
 */
export const KERNELS = [
  'fill',
  'elementwise',
] as const;

export type KernelName = (typeof KERNELS)[number];
