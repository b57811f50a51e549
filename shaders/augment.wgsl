// Gathers one batch of images from one chunk of the byte-packed data set, applies the random crop,
// horizontal flip and Cutout, and normalises through a lookup table. One thread per output element; a
// data set stored in several chunks gets one dispatch per chunk, and each dispatch writes only the slots
// whose sample lives in its chunk. The randomness must stay identical to src/data/random.ts and
// src/data/cpu_batch.ts: the CPU path is compared with this kernel bit for bit.

override WG: u32 = 256;

struct Params {
  first: u32,          // data-set index of the chunk's first image
  chunk_count: u32,    // images in the chunk
  batch: u32,          // slots per batch
  channels: u32,
  height: u32,
  width: u32,
  padding: u32,        // crop padding; 0 turns the crop off
  reflect_pad: u32,    // 1: mirror the border, 0: pad with byte 0
  flip: u32,           // 1: random horizontal flips
  cutout: u32,         // side of the Cutout square; 0 turns it off
  write_padding: u32,  // 1 for exactly one dispatch: it zeroes the slots past the batch's count
}

@group(0) @binding(0) var<uniform> p: Params;
// The chunk's images, CHW bytes each, image after image, four bytes per word (little-endian).
@group(0) @binding(1) var<storage, read> data: array<u32>;
// table[c * 256 + byte]: the normalised value of byte in channel c.
@group(0) @binding(2) var<storage, read> table: array<f32>;
// [count, index of each slot..., augmentation seed of each slot...], written by GpuBatcher.select.
@group(0) @binding(3) var<storage, read> selection: array<u32>;
@group(0) @binding(4) var<storage, read_write> images: array<f32>;

const GOLDEN: u32 = 0x9e3779b9u;

// lowbias32, as mix32 in src/data/random.ts.
fn mix32(v: u32) -> u32 {
  var x = v;
  x ^= x >> 16u;
  x *= 0x7feb352du;
  x ^= x >> 15u;
  x *= 0x846ca68bu;
  x ^= x >> 16u;
  return x;
}

// Draw k of a sample, as draw in src/data/random.ts (u32 arithmetic wraps identically).
fn draw(seed: u32, k: u32) -> u32 {
  return mix32(seed + (k + 1u) * GOLDEN);
}

// torchvision's "reflect" padding: the border pixel is not repeated (valid while padding < n).
fn reflect_index(i: i32, n: i32) -> i32 {
  if (i < 0) {
    return -i;
  }
  if (i >= n) {
    return 2 * n - 2 - i;
  }
  return i;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  let plane = p.height * p.width;
  let image_size = p.channels * plane;
  let slot = i / image_size;
  if (slot >= p.batch) {
    return;
  }
  if (slot >= selection[0]) {
    if (p.write_padding == 1u) {
      images[i] = 0.0;
    }
    return;
  }
  let index = selection[1u + slot];
  if (index < p.first || index - p.first >= p.chunk_count) {
    return;
  }
  let seed = selection[1u + p.batch + slot];
  let within = i - slot * image_size;
  let c = within / plane;
  let y = (within - c * plane) / p.width;
  let x = within - c * plane - y * p.width;
  if (p.cutout > 0u) {
    // DeVries & Taylor: a square of side 2 * (cutout / 2) centred anywhere, clipped by the border.
    let reach = i32(p.cutout / 2u);
    let cy = i32(draw(seed, 3u) % p.height);
    let cx = i32(draw(seed, 4u) % p.width);
    if (i32(y) >= cy - reach && i32(y) < cy + reach && i32(x) >= cx - reach && i32(x) < cx + reach) {
      images[i] = 0.0;
      return;
    }
  }
  // The flip mirrors the cropped image, so it maps the output column before the crop offset applies.
  var column = x;
  if (p.flip == 1u && (draw(seed, 2u) & 1u) == 1u) {
    column = p.width - 1u - x;
  }
  let span = 2u * p.padding + 1u;
  var sy = i32(y + draw(seed, 0u) % span) - i32(p.padding);
  var sx = i32(column + draw(seed, 1u) % span) - i32(p.padding);
  if (p.reflect_pad == 1u) {
    sy = reflect_index(sy, i32(p.height));
    sx = reflect_index(sx, i32(p.width));
  }
  var value = 0u;
  if (sy >= 0 && sy < i32(p.height) && sx >= 0 && sx < i32(p.width)) {
    let address = (index - p.first) * image_size + c * plane + u32(sy) * p.width + u32(sx);
    value = (data[address >> 2u] >> ((address & 3u) * 8u)) & 0xffu;
  }
  images[i] = table[c * 256u + value];
}
