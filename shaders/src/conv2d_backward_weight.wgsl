// conv2d weight and bias gradients, f32 operands (lib/conv_backward_weight.wgsl).
alias XT = f32;
//#include "lib/conv_backward_weight.wgsl"
