// Gathers one batch of images from one chunk of the byte-packed data set: each slot's crop window (its
// offsets may reach into the padding), horizontal flip and Cutout rectangle arrive as a table the host
// draws (src/data/augment_op.ts, from src/data/_sample_window.ts, as the CPU pipeline does), so this
// kernel only copies, mirrors and normalises through a lookup table. One thread per output row; a data
// set stored in several chunks gets one dispatch per chunk, and each dispatch writes only the slots whose
// sample lives in its chunk.

override WG: u32 = 64;

// Words per slot of the selection table.
const RECORD: u32 = 10u;

struct Params {
  first: u32,          // data-set index of the chunk's first image
  chunk_count: u32,    // images in the chunk
  batch: u32,          // slots per batch
  channels: u32,
  height: u32,         // rows of a batch image
  width: u32,          // columns of a batch image
  slot_bytes: u32,     // bytes from one data-set image's start to the next's
  reflect_pad: u32,    // 1: mirror the border, 0: pad with byte 0
  write_padding: u32,  // 1 for exactly one dispatch: it zeroes the slots past the batch's count
}

@group(0) @binding(0) var<uniform> p: Params;
// The chunk's images, CHW bytes each at its own size, one per slot, four bytes per word (little-endian).
@group(0) @binding(1) var<storage, read> chunk_bytes: array<u32>;
// table[c * 256 + byte]: the normalised value of byte in channel c.
@group(0) @binding(2) var<storage, read> table: array<f32>;
// [count, then per slot: data-set index, crop top, crop left, flipped, the image's columns and rows,
// Cutout's first and past-the-last row and column (an empty range for none)], written by GpuBatcher.select.
@group(0) @binding(3) var<storage, read> selection: array<i32>;
@group(0) @binding(4) var<storage, read_write> images: array<f32>;

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
  let row = gid.x + gid.y * nwg.x * WG;
  let rows_per_image = p.channels * p.height;
  let slot = row / rows_per_image;
  if (slot >= p.batch) {
    return;
  }
  let out_row = row * p.width;
  if (slot >= u32(selection[0])) {
    if (p.write_padding == 1u) {
      for (var x = 0u; x < p.width; x++) {
        images[out_row + x] = 0.0;
      }
    }
    return;
  }
  let record = 1u + slot * RECORD;
  let index = u32(selection[record]);
  if (index < p.first || index - p.first >= p.chunk_count) {
    return;
  }
  let c = (row - slot * rows_per_image) / p.height;
  let y = i32(row - slot * rows_per_image - c * p.height);
  let left = selection[record + 2u];
  let flipped = selection[record + 3u] == 1;
  let source_width = selection[record + 4u];
  let source_height = selection[record + 5u];
  var cut_from = 0;
  var cut_to = 0;
  if (y >= selection[record + 6u] && y < selection[record + 7u]) {
    cut_from = selection[record + 8u];
    cut_to = selection[record + 9u];
  }
  var sy = y + selection[record + 1u];
  if (p.reflect_pad == 1u) {
    sy = reflect_index(sy, source_height);
  }
  let row_inside = sy >= 0 && sy < source_height;
  let source_row = (index - p.first) * p.slot_bytes +
    (c * u32(source_height) + u32(max(sy, 0))) * u32(source_width);
  let width = i32(p.width);
  for (var x = 0; x < width; x++) {
    if (x >= cut_from && x < cut_to) {
      images[out_row + u32(x)] = 0.0;
      continue;
    }
    // The flip mirrors the cropped image, so it maps the output column before the crop offset applies.
    var sx = select(x, width - 1 - x, flipped) + left;
    if (p.reflect_pad == 1u) {
      sx = reflect_index(sx, source_width);
    }
    var value = 0u;
    if (row_inside && sx >= 0 && sx < source_width) {
      let address = source_row + u32(sx);
      value = (chunk_bytes[address >> 2u] >> ((address & 3u) * 8u)) & 0xffu;
    }
    images[out_row + u32(x)] = table[c * 256u + value];
  }
}
