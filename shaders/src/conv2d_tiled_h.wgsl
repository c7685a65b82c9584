// conv2d as a workgroup-tiled implicit GEMM with f16 operands (lib/conv_tiled.wgsl); B, bias, out and the sums are
// f32. Needs shader-f16: an optional kernel (src/gpu/registry.ts).
enable f16;
alias XT = f16;
//#include "lib/conv_tiled.wgsl"
