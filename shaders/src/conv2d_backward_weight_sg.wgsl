enable subgroups;
// main_fast_split_sg with f32 operands (lib/conv_backward_weight_sg.wgsl).
alias XT = f32;
//#include "lib/conv_backward_weight_sg.wgsl"
