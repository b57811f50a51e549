/**
 * Image decoding throughput: 48 photo-sized JPEGs (500x375, quality 90) read, decoded, resized (shorter
 * side to 256) and centre-cropped to 224, as torchvision's evaluation transform does, on the main thread,
 * in a pool of 1 worker and of one worker per core, and, for comparison, by PIL + torchvision in one
 * Python process. Prints a summary line of images per second at the end.
 *
 * Run with `deno bench -A --no-lock bench/decode_bench.ts`.
 */
import { join } from "node:path";
import jpeg from "jpeg-js";
import { decodeEntriesParallel } from "../src/data/decode_pool.ts";
import type { ImageEntry } from "../src/data/image_folder.ts";
import { readImage } from "../src/data/images.ts";
import { jpegHeader, libjpegInUse, wasmLibjpeg } from "../src/data/_jpeg.ts";
import { evalCrop } from "../src/data/transforms.ts";

const COUNT = 48;
const WIDTH = 500;
const HEIGHT = 375;
const GROUP = "decode + Resize(256) + CenterCrop(224)";
const PYTHON = "/usr/bin/python3";
const cores = Math.max(1, navigator.hardwareConcurrency || 1);

/** A smooth gradient with noise on top, so that the JPEG holds detail in every block, as a photo does. */
function photo(seed: number): Uint8Array {
  const rgba = new Uint8Array(WIDTH * HEIGHT * 4);
  let state = seed;
  for (let y = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++) {
      const i = (y * WIDTH + x) * 4;
      for (let c = 0; c < 3; c++) {
        state = (state * 1103515245 + 12345) >>> 0;
        const base = c === 0 ? x * 255 / WIDTH : c === 1 ? y * 255 / HEIGHT : (x + y + seed * 40) % 256;
        rgba[i + c] = Math.max(0, Math.min(255, Math.round(base + ((state >>> 24) - 128) / 4)));
      }
      rgba[i + 3] = 255;
    }
  }
  return rgba;
}

const dir = await Deno.makeTempDir({ prefix: "decode_bench_" });
const entries: ImageEntry[] = [];
for (let i = 0; i < COUNT; i++) {
  const path = join(dir, `${i}.jpg`);
  await Deno.writeFile(path, jpeg.encode({ data: photo(i), width: WIDTH, height: HEIGHT }, 90).data);
  entries.push({ path, label: 0 });
}
const crop = { size: 224 };

/** Milliseconds of each timed iteration, by case; for the summary, since `Deno.bench` keeps its own. */
const times = new Map<string, number[]>();
/** Milliseconds of the Python loop itself, each run, without the interpreter's start-up and imports. */
const pilLoopMs: number[] = [];
/** The same, averaged over one process per core running at once, each over its share of the long list. */
const pilAllLoopMs: number[] = [];

async function timed(name: string, body: () => Promise<void>): Promise<void> {
  const start = performance.now();
  await body();
  const list = times.get(name) ?? [];
  list.push(performance.now() - start);
  times.set(name, list);
}

/** The median of the timed iterations, the warm-up one (the first) left out. */
const median = (values: readonly number[]) => {
  const sorted = values.slice(1).sort((a, b) => a - b);
  return sorted.length === 0 ? undefined : sorted[sorted.length >> 1];
};
const perSecond = (ms: number | undefined) => ms === undefined ? NaN : COUNT / (ms / 1000);

// Each call starts its workers afresh, each loading the decoders and warming its JIT (about 75 ms, more
// where the WebAssembly build is compiled): over 48 files that start-up is a good part of the time; over
// many more it is not, as in loading a real folder.
const REPEAT = 40;
const MANY = Array.from({ length: REPEAT }, () => entries).flat();
const SEQUENTIAL = `ours, main thread, one file after the other (${libjpegInUse().name})`;
const WASM = "ours, main thread, one file after the other, libjpeg-turbo's WebAssembly build";
const ONE_WORKER = "ours, decodeEntriesParallel, 1 worker";
const ALL_WORKERS = `ours, decodeEntriesParallel, ${cores} workers`;
const PIL = "PIL + torchvision, one process (subprocess, start-up included)";
const PIL_ALL =
  `PIL + torchvision, ${cores} processes at once, each on 1/${cores} of the ${REPEAT} times 48 files`;

Deno.bench(SEQUENTIAL, { group: GROUP, baseline: true, n: 5, warmup: 1 }, async () => {
  await timed(SEQUENTIAL, async () => {
    for (const entry of entries) evalCrop(await readImage(entry.path), crop);
  });
});

const wasm = wasmLibjpeg();
Deno.bench(WASM, { group: GROUP, n: 5, warmup: 1 }, async () => {
  await timed(WASM, async () => {
    for (const entry of entries) {
      const bytes = await Deno.readFile(entry.path);
      const header = jpegHeader(bytes, entry.path);
      evalCrop({ width: header.width, height: header.height, data: wasm.decode(bytes, header)! }, crop);
    }
  });
});

Deno.bench(ONE_WORKER, { group: GROUP, n: 5, warmup: 1 }, async () => {
  await timed(ONE_WORKER, async () => void await decodeEntriesParallel(entries, { crop, workers: 1 }));
});

if (cores > 1) {
  Deno.bench(ALL_WORKERS, { group: GROUP, n: 5, warmup: 1 }, async () => {
    await timed(ALL_WORKERS, async () => void await decodeEntriesParallel(entries, { crop, workers: cores }));
  });
}

const ALL_WORKERS_MANY = `ours, decodeEntriesParallel, ${cores} workers, the 48 files ${REPEAT} times`;
Deno.bench(ALL_WORKERS_MANY, { group: GROUP, n: 3, warmup: 1 }, async () => {
  await timed(ALL_WORKERS_MANY, async () => void await decodeEntriesParallel(MANY, { crop, workers: cores }));
});

// The loop is timed inside the script, so that the comparison is of decoding, not of importing torch.
const PIL_SCRIPT = `
import sys, time
import torch, torchvision
from PIL import Image
torch.set_num_threads(1)
transform = torchvision.transforms.Compose([
    torchvision.transforms.Resize(256),
    torchvision.transforms.CenterCrop(224),
])
start = time.perf_counter()
for path in sys.argv[1:]:
    with Image.open(path) as image:
        crop = transform(image.convert("RGB"))
        assert crop.size == (224, 224)
print(time.perf_counter() - start)
`;

async function pilAvailable(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(PYTHON, {
      args: ["-c", "import PIL, torchvision"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

/** Milliseconds of one Python process's loop over `paths`. */
async function pilLoop(paths: string[]): Promise<number> {
  const output = await new Deno.Command(PYTHON, { args: ["-c", PIL_SCRIPT, ...paths] }).output();
  if (!output.success) {
    throw new Error(`${PYTHON} failed running the PIL bench: ${new TextDecoder().decode(output.stderr)}`);
  }
  return Number(new TextDecoder().decode(output.stdout).trim()) * 1000;
}

const pil = await pilAvailable();
if (pil) {
  Deno.bench(PIL, { group: GROUP, n: 5, warmup: 1 }, async () => {
    pilLoopMs.push(await pilLoop(entries.map((entry) => entry.path)));
  });
  // As a DataLoader with one worker per core runs: what one process gets while the others run too.
  Deno.bench(PIL_ALL, { group: GROUP, n: 3, warmup: 1 }, async () => {
    const paths = MANY.slice(0, MANY.length / cores).map((entry) => entry.path);
    const loops = await Promise.all(Array.from({ length: cores }, () => pilLoop(paths)));
    pilAllLoopMs.push(loops.reduce((a, b) => a + b) / cores);
  });
} else {
  console.log(`PIL + torchvision unavailable (${PYTHON} cannot import PIL and torchvision): case skipped`);
}

globalThis.addEventListener("unload", () => {
  Deno.removeSync(dir, { recursive: true });
  const sequential = perSecond(median(times.get(SEQUENTIAL) ?? []));
  const one = perSecond(median(times.get(ONE_WORKER) ?? []));
  const webAssembly = perSecond(median(times.get(WASM) ?? []));
  const all = cores > 1 ? perSecond(median(times.get(ALL_WORKERS) ?? [])) : one;
  const many = perSecond(median(times.get(ALL_WORKERS_MANY) ?? [])) * REPEAT;
  const pilRate = perSecond(median(pilLoopMs));
  const pilAllRate = perSecond(median(pilAllLoopMs)) * REPEAT / cores;
  const fixed = (value: number) => Number.isNaN(value) ? "n/a" : value.toFixed(1);
  const ratio = (value: number) => Number.isNaN(value) ? "n/a" : `${value.toFixed(2)}x`;
  console.log(
    `\n${GROUP}, ${COUNT} JPEGs of ${WIDTH}x${HEIGHT} (q90), ${cores} cores, median images/s: ` +
      `main thread ${fixed(sequential)}, 1 worker ${fixed(one)}, ${cores} workers ${fixed(all)} ` +
      `(${fixed(many)} over ${COUNT * REPEAT} files), ` +
      `PIL single core ${pil ? fixed(pilRate) : "unavailable"} (its own loop time), ` +
      `${pil ? fixed(pilAllRate) : "unavailable"} per process with ${cores} at once over ` +
      `${COUNT * REPEAT} files; ours per worker / PIL's per process, both ${cores} at once: ` +
      `${ratio(many / cores / pilAllRate)}; ` +
      `ours per worker / PIL: 1 worker ${ratio(one / pilRate)}, ` +
      `${cores} workers ${ratio(all / cores / pilRate)} (${ratio(many / cores / pilRate)} over ` +
      `${COUNT * REPEAT} files), main thread ${ratio(sequential / pilRate)}; JPEGs decoded by ` +
      `${libjpegInUse().name}, and on the main thread with the WebAssembly build ${fixed(webAssembly)} ` +
      `(${ratio(webAssembly / pilRate)})`,
  );
});
