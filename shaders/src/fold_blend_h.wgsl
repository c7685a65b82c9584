// foldBlend's forward entries with an f16 folded weight (computed in f32, rounded once on the store): the same
// body as fold_blend.wgsl (shaders/lib/fold_blend.wgsl) with OT = f16. Loaded where the adapter has shader-f16.
enable f16;
alias OT = f16;
//#include "lib/fold_blend.wgsl"
//#expand tiled(fold, fold, p.C, p.O, p.I, (r * p.I + s) * p.T + t, false)
//#expand gather4(fold)
//#expand direct(fold_direct, fold, p.C, p.O, p.I, p.T, false)
//#expand vec(fold_vec, fold_vec_block, p.O * p.I / 4u)
