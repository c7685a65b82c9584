enable subgroups;
// main_rows_sg with f32 operands (lib/conv_forward_sg.wgsl).
alias XT = f32;
//#include "lib/conv_forward_sg.wgsl"
