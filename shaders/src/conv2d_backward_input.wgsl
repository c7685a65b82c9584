// conv2d input gradient, f32 operands (lib/conv_backward_input.wgsl).
alias XT = f32;
//#include "lib/conv_backward_input.wgsl"
