// The fold of an SL blend into the conv that follows it and its two gradients, f32: see shaders/lib/fold_blend.wgsl.
// fold_blend_h.wgsl has the forward entries with an f16 output.
alias OT = f32;
//#include "lib/fold_blend.wgsl"
//#expand tiled(fold, fold, p.C, p.O, p.I, (r * p.I + s) * p.T + t, false)
//#expand tiled(grad_w, gw, p.I, p.O, p.C, (r * p.C + s) * p.T + t, true)
//#expand tiled(grad_m, gm, p.O * p.T, p.C, p.I, r * p.I + s, true)
//#expand gather4(fold)
//#expand gather4(gw)
//#expand gather4(gm)
//#expand direct(fold_direct, fold, p.C, p.O, p.I, p.T, false)
//#expand direct(grad_w_direct, gw, p.I, p.O, p.C, p.T, true)
//#expand direct(grad_m_direct, gm, p.O * p.T, p.C, p.I, 1u, true)
//#expand vec(fold_vec, fold_vec_block, p.O * p.I / 4u)
//#expand vec(grad_m_vec, grad_m_vec_block, p.C * p.I / 16u)

