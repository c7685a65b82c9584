// conv2d as a workgroup-tiled implicit GEMM (GPUs), f32 operands (lib/conv_tiled.wgsl).
alias XT = f32;
//#include "lib/conv_tiled.wgsl"
