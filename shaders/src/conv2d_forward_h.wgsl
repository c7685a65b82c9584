// conv2d forward with f16 operands (x, weight; mixed precision): the entries of conv2d_forward but main_wide,
// reading f16 and summing in f32 (lib/conv_forward.wgsl); y, bias, packed weight and partial sums stay f32.
// Needs shader-f16: an optional kernel (src/gpu/registry.ts).
enable f16;
alias XT = f16;
//#include "lib/conv_forward.wgsl"
