// Gathers one batch of images from one chunk of the byte-packed data set, applies the crop (random in
// the padded image, or the centre window of a larger one), horizontal flip and Cutout, and normalises
// through a lookup table. One thread per output row; a data
// set stored in several chunks gets one dispatch per chunk, and each dispatch writes only the slots whose
// sample lives in its chunk. The randomness must stay identical to src/data/random.ts and
// src/data/cpu_batch.ts: the CPU path is compared with this kernel bit for bit.

override WG: u32 = 64;

struct Params {
  first: u32,          // data-set index of the chunk's first image
  chunk_count: u32,    // images in the chunk
  batch: u32,          // slots per batch
  channels: u32,
  height: u32,         // rows of a batch image
  width: u32,          // columns of a batch image
  source_height: u32,  // rows of a data-set image
  source_width: u32,   // columns of a data-set image
  random_crop: u32,    // 1: a window anywhere in the padded image; 0: the window at (centre_top, centre_left)
  centre_top: u32,
  centre_left: u32,
  padding: u32,        // crop padding
  reflect_pad: u32,    // 1: mirror the border, 0: pad with byte 0
  flip: u32,           // 1: random horizontal flips
  cutout: u32,         // side of the Cutout square; 0 turns it off
  write_padding: u32,  // 1 for exactly one dispatch: it zeroes the slots past the batch's count
}

@group(0) @binding(0) var<uniform> p: Params;
// The chunk's images, CHW bytes each, image after image, four bytes per word (little-endian).
@group(0) @binding(1) var<storage, read> chunk_bytes: array<u32>;
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
  // One thread per output row (slot, channel, y): the draws are made once per row, not per element.
  let row = gid.x + gid.y * nwg.x * WG;
  let rows_per_image = p.channels * p.height;
  let slot = row / rows_per_image;
  if (slot >= p.batch) {
    return;
  }
  let out_row = row * p.width;
  if (slot >= selection[0]) {
    if (p.write_padding == 1u) {
      for (var x = 0u; x < p.width; x++) {
        images[out_row + x] = 0.0;
      }
    }
    return;
  }
  let index = selection[1u + slot];
  if (index < p.first || index - p.first >= p.chunk_count) {
    return;
  }
  let seed = selection[1u + p.batch + slot];
  let c = (row - slot * rows_per_image) / p.height;
  let y = row - slot * rows_per_image - c * p.height;
  let width = i32(p.width);
  // Columns [cut_from, cut_to) of this row fall in the Cutout square (DeVries & Taylor: side
  // 2 * (cutout / 2), centred anywhere, clipped by the border).
  var cut_from = 0;
  var cut_to = 0;
  if (p.cutout > 0u) {
    let reach = i32(p.cutout / 2u);
    let cy = i32(draw(seed, 3u) % p.height);
    let cx = i32(draw(seed, 4u) % p.width);
    if (i32(y) >= cy - reach && i32(y) < cy + reach) {
      cut_from = cx - reach;
      cut_to = cx + reach;
    }
  }
  var sy = i32(y + p.centre_top);
  var left = i32(p.centre_left);
  if (p.random_crop == 1u) {
    sy = i32(y + draw(seed, 0u) % (p.source_height - p.height + 2u * p.padding + 1u)) - i32(p.padding);
    left = i32(draw(seed, 1u) % (p.source_width - p.width + 2u * p.padding + 1u)) - i32(p.padding);
  }
  let flipped = p.flip == 1u && (draw(seed, 2u) & 1u) == 1u;
  if (p.reflect_pad == 1u) {
    sy = reflect_index(sy, i32(p.source_height));
  }
  let row_inside = sy >= 0 && sy < i32(p.source_height);
  let image_size = p.channels * p.source_height * p.source_width;
  let source_row = (index - p.first) * image_size + (c * p.source_height + u32(max(sy, 0))) * p.source_width;
  for (var x = 0; x < width; x++) {
    if (x >= cut_from && x < cut_to) {
      images[out_row + u32(x)] = 0.0;
      continue;
    }
    // The flip mirrors the cropped image, so it maps the output column before the crop offset applies.
    var sx = select(x, width - 1 - x, flipped) + left;
    if (p.reflect_pad == 1u) {
      sx = reflect_index(sx, i32(p.source_width));
    }
    var value = 0u;
    if (row_inside && sx >= 0 && sx < i32(p.source_width)) {
      let address = source_row + u32(sx);
      value = (chunk_bytes[address >> 2u] >> ((address & 3u) * 8u)) & 0xffu;
    }
    images[out_row + u32(x)] = table[c * 256u + value];
  }
}
