enable f16;
enable subgroups;
// main_rows_sg with an f16 input (lib/conv_forward_sg.wgsl); the packed weight, sums and output are f32. Needs
// shader-f16 and subgroups: an optional kernel (src/gpu/registry.ts).
alias XT = f16;
//#include "lib/conv_forward_sg.wgsl"
