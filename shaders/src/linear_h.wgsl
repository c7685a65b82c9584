// The dense-layer GEMM of linear.wgsl with f16 operands A and B (mixed precision: src/ops/linear.ts), widened to f32
// on load: tiles, accumulation, bias and C stay f32. An optional kernel: loaded where the device has shader-f16.
// The bias gradient needs no twin (it sums the f32 dy: linear.wgsl's bias_grad).
enable f16;

alias AT = f16;
//#include "lib/linear.wgsl"
