// conv2d forward, f32 operands: the general implicit GEMM (main), the 3×3 fast paths (main_fast, main_rows,
// main_wide) and their prep and reduction entries. The body is lib/conv_forward.wgsl, shared with conv2d_forward_h.
alias XT = f32;
//#include "lib/conv_forward.wgsl"
//#include "lib/conv_wide.wgsl"
