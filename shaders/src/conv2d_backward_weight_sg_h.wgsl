enable f16;
enable subgroups;
// main_fast_split_sg with f16 dy and x (lib/conv_backward_weight_sg.wgsl); the sums and partial are f32. Needs
// shader-f16 and subgroups: an optional kernel (src/gpu/registry.ts).
alias XT = f16;
//#include "lib/conv_backward_weight_sg.wgsl"
