// conv2d input gradient with f16 dy and weight (lib/conv_backward_input.wgsl); dx and the sums are f32. Needs
// shader-f16: an optional kernel (src/gpu/registry.ts).
enable f16;
alias XT = f16;
//#include "lib/conv_backward_input.wgsl"
