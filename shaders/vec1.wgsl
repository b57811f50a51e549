// Defines `Vec` as f32, for tensors whose planes do not hold a multiple of 4 values: the scalar twin of
// vec4.wgsl, with the same names.

alias Vec = f32;
const WIDTH = 1u;
fn lanes_sum(v: Vec) -> f32 { return v; }
fn first_lane(v: Vec) -> f32 { return v; }
