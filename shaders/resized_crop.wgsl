// RandomResizedCrop on the GPU: each sample's window of a byte image resized to size x size with PIL's
// antialiased bilinear filter, mirrored when flipped, and normalised through a lookup table. PIL resizes
// in two passes and rounds the first to bytes, so two entry points do the same: `horizontal` resizes the
// rows the window needs to `size` columns, `vertical` resizes those columns to `size` rows. Weights,
// windows and flips arrive as the fixed-point table src/data/resized_crop_op.ts builds in float64 on the
// host: integer sums of the same integers make the bytes equal src/data/transforms.ts's, bit for bit.
// The source images lie in one or more chunk buffers (a data set kept on the GPU, or a batch uploaded for
// the step): `horizontal` runs once per chunk and resizes only the samples whose image lies in it.

override WG: u32 = 64;

struct Params {
  batch: u32,    // samples
  height: u32,   // rows of every source image, or the most of any
  width: u32,    // columns of every source image, or the most of any
  size: u32,     // side of the square output
  taps: u32,     // weight slots of each output pixel's entry
  chunk: u32,    // the chunk bound as image_bytes (horizontal only)
}

@group(0) @binding(0) var<uniform> p: Params;
// One chunk's source images, CHW bytes each, image after image, four bytes per word (little-endian).
@group(0) @binding(1) var<storage, read> image_bytes: array<u32>;
// Per sample a header of HEADER words: the first and past-the-last source row the window needs, the
// chunk of its image (-1 for a padding slot, which the vertical pass zeroes), the image's first byte in
// that chunk, the Cutout rectangle's first and past-the-last output row and column (empty for none), and
// the image's own columns and rows.
// Then `size` entries for the columns and `size` for the rows. An entry is the first source pixel, the
// pixel count and `taps` weights in units of 2^-22; the column entries are already in mirrored order for
// a flipped sample.
@group(0) @binding(2) var<storage, read> coefficients: array<i32>;
// [batch, 3, height, ceil(size / 4) words]: the horizontal pass's bytes, four per word.
@group(0) @binding(3) var<storage, read_write> rows: array<u32>;
// table[c * 256 + byte]: the normalised value of byte in channel c.
@group(0) @binding(4) var<storage, read> table: array<f32>;
// [batch, 3, size, size] f32.
@group(0) @binding(5) var<storage, read_write> images: array<f32>;

const HEADER: u32 = 10u;
const PRECISION_BITS: u32 = 22u;
// Half a unit of the last fixed-point place: Pillow starts every sum there, so that the shift rounds.
const ROUNDING: i32 = 1 << 21;

// Pillow's clip8: a fixed-point sum back to a byte.
fn clip8(sum: i32) -> u32 {
  return u32(clamp(sum >> PRECISION_BITS, 0, 255));
}

fn sample_base(n: u32) -> u32 {
  return n * (HEADER + 2u * p.size * (2u + p.taps));
}

// Where entry `o` of axis `axis` (0 columns, 1 rows) of sample `n` starts.
fn entry(n: u32, axis: u32, o: u32) -> u32 {
  return sample_base(n) + HEADER + (axis * p.size + o) * (2u + p.taps);
}

fn source_byte(address: u32) -> i32 {
  return i32((image_bytes[address >> 2u] >> ((address & 3u) * 8u)) & 0xffu);
}

fn row_words() -> u32 {
  return (p.size + 3u) / 4u;
}

// One thread per source row (sample, channel, y); rows outside the sample's window, and samples of
// other chunks, return at once.
@compute @workgroup_size(WG)
fn horizontal(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = gid.x + gid.y * nwg.x * WG;
  let n = row / (3u * p.height);
  if (n >= p.batch) {
    return;
  }
  let y = row % p.height;
  let base = sample_base(n);
  if (coefficients[base + 2u] != i32(p.chunk) || i32(y) < coefficients[base] ||
      i32(y) >= coefficients[base + 1u]) {
    return;
  }
  let c = (row - n * 3u * p.height) / p.height;
  let source_width = u32(coefficients[base + 8u]);
  let source_row = u32(coefficients[base + 3u]) + (c * u32(coefficients[base + 9u]) + y) * source_width;
  let out_row = row * row_words();
  var word = 0u;
  for (var x = 0u; x < p.size; x++) {
    let e = entry(n, 0u, x);
    let first = u32(coefficients[e]);
    let count = u32(coefficients[e + 1u]);
    var sum = ROUNDING;
    for (var k = 0u; k < count; k++) {
      sum += source_byte(source_row + first + k) * coefficients[e + 2u + k];
    }
    word |= clip8(sum) << ((x & 3u) * 8u);
    if ((x & 3u) == 3u || x + 1u == p.size) {
      rows[out_row + x / 4u] = word;
      word = 0u;
    }
  }
}

// One thread per output row (sample, channel, y).
@compute @workgroup_size(WG)
fn vertical(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let row = gid.x + gid.y * nwg.x * WG;
  let n = row / (3u * p.size);
  if (n >= p.batch) {
    return;
  }
  let base = sample_base(n);
  let out_row = row * p.size;
  if (coefficients[base + 2u] < 0) {
    for (var x = 0u; x < p.size; x++) {
      images[out_row + x] = 0.0;
    }
    return;
  }
  let c = (row / p.size) % 3u;
  let y = i32(row % p.size);
  let e = entry(n, 1u, row % p.size);
  let first = u32(coefficients[e]);
  let count = u32(coefficients[e + 1u]);
  let plane = (n * 3u + c) * p.height;
  let in_cut_rows = y >= coefficients[base + 4u] && y < coefficients[base + 5u];
  for (var x = 0u; x < p.size; x++) {
    if (in_cut_rows && i32(x) >= coefficients[base + 6u] && i32(x) < coefficients[base + 7u]) {
      images[out_row + x] = 0.0;
      continue;
    }
    var sum = ROUNDING;
    for (var k = 0u; k < count; k++) {
      let word = rows[(plane + first + k) * row_words() + x / 4u];
      sum += i32((word >> ((x & 3u) * 8u)) & 0xffu) * coefficients[e + 2u + k];
    }
    images[out_row + x] = table[c * 256u + clip8(sum)];
  }
}
