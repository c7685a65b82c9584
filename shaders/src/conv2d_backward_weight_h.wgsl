// conv2d weight and bias gradients with f16 dy and x (lib/conv_backward_weight.wgsl); dw, db and the sums are
// f32. Needs shader-f16: an optional kernel (src/gpu/registry.ts).
enable f16;
alias XT = f16;
//#include "lib/conv_backward_weight.wgsl"
