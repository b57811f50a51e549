// Defines `Vec` as vec4f, for tensors whose planes hold a multiple of 4 values: shaders composed after it
// (batch norm, global average pool) read and write four values at a time. vec1.wgsl is its scalar twin.

alias Vec = vec4f;
const WIDTH = 4u;
fn lanes_sum(v: Vec) -> f32 { return (v.x + v.y) + (v.z + v.w); }
fn first_lane(v: Vec) -> f32 { return v.x; }
