/**
 * The browser bench: `deno run -A bench/browser.ts` (or `deno task bench:browser`).
 *
 * Bundles `web.ts` and {@link ./tfjs_peer.ts} (TensorFlow.js's resnet18 peer) for the browser with `deno bundle --platform browser`, serves them with a page on
 * 127.0.0.1, and opens headless Chromium (Debian's `chromium`, SwiftShader's WebGPU adapter with
 * `--disable-gpu`) through playwright-core. In one page, on the same adapter, batch and input, it times our
 * resnet18 training step (ImageNet stem, 3x32x32 inputs, 10 classes, SGD with momentum) and TensorFlow.js's
 * (WebGPU backend), then eval-mode inference of both: a warm-up step first, then `BROWSER_BENCH_STEPS` steps
 * enqueued back to back and one wait at the end (no readback). It prints a Markdown table of images/s.
 *
 * Not part of the tests, and not a `Deno.bench` file (so `deno task bench` does not start a browser). Our
 * side runs without the convolution autotune (as the web demo does), since `web.ts` does not export it.
 *
 * Environment:
 * - `BROWSER_BENCH_STEPS`: steps timed after the warm-up, default 3.
 * - `BROWSER_BENCH_BATCH`: images per step, default 8.
 * - `BROWSER_BENCH_INFERENCE`: `0` skips the inference rows.
 * - `BROWSER_BENCH_TIMEOUT_S`: longest the page may take, default 1800 (SwiftShader runs on the CPU).
 * - `CHROMIUM`: the browser, default `/usr/bin/chromium`.
 *
 * @module
 */

import { type Browser, chromium } from "playwright-core";
import { envInteger, figure, markdownTable } from "./_util.ts";
import { CHROMIUM, CHROMIUM_ARGS, POLL_MS, within } from "../tools/_chromium.ts";

const STEPS = envInteger("BROWSER_BENCH_STEPS", 3);
const BATCH = envInteger("BROWSER_BENCH_BATCH", 8);
const INFERENCE = Deno.env.get("BROWSER_BENCH_INFERENCE") !== "0";
const PAGE_TIMEOUT_MS = envInteger("BROWSER_BENCH_TIMEOUT_S", 1800) * 1000;

/** What the page is asked to run. */
interface Settings {
  batch: number;
  steps: number;
  inference: boolean;
  classes: number;
  size: number;
  lr: number;
  momentum: number;
}

// No weight decay: TensorFlow.js's momentum optimizer has none, and both sides must do the same work.
const SETTINGS: Settings = {
  batch: BATCH,
  steps: STEPS,
  inference: INFERENCE,
  classes: 10,
  size: 32,
  lr: 0.01,
  momentum: 0.9,
};

/** One timed case, as the page reports it. */
interface Timing {
  implementation: "ours" | "tfjs";
  mode: "train" | "inference";
  /** Milliseconds from nothing built to the end of the warm-up step. */
  firstStepMs: number;
  /** Milliseconds per step over the timed steps (enqueue to GPU idle). */
  stepMs: number;
}

interface Outcome {
  adapter: string;
  tfjsVersion?: string;
  tfjsFailure?: string;
  timings: Timing[];
}

const ROOT = new URL("../", import.meta.url);

/** Bundles `entry` (relative to the repository) for the browser and returns the code. */
async function bundle(entry: string, dir: string, name: string): Promise<Uint8Array<ArrayBuffer>> {
  const out = `${dir}/${name}`;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--no-lock", "--platform", "browser", "--format", "esm", "-o", out, entry],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    const text = new TextDecoder();
    throw new Error(`deno bundle ${entry} failed:\n${text.decode(stdout)}${text.decode(stderr)}`);
  }
  return await Deno.readFile(out);
}

/** The page: imports both bundles and defines `runBench(settings)`; plain JavaScript, run in Chromium. */
const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <title>@denogpu/resnet browser bench</title>
    <link rel="icon" href="data:,">
  </head>
  <body>
    <p id="status">loading the bundles…</p>
    <script type="module">
    import * as api from "/resnet.js";
    import * as peer from "/tfjs.js";

    const log = (text) => {
      console.log(text);
      document.getElementById("status").textContent = text;
    };

    async function time(steps, run, idle) {
      const start = performance.now();
      for (let i = 0; i < steps; i++) run();
      await idle();
      return (performance.now() - start) / steps;
    }

    globalThis.runBench = async (s) => {
      if (!("gpu" in navigator)) throw new Error("navigator.gpu is missing: this browser has no WebGPU");
      const shape = [3, s.size, s.size];
      const images = new Float32Array(s.batch * 3 * s.size * s.size);
      let state = 12345;
      for (let i = 0; i < images.length; i++) {
        state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
        images[i] = (state / 4294967296 - 0.5) * 2;
      }
      const labels = Uint32Array.from({ length: s.batch }, (_, i) => i % s.classes);
      const timings = [];

      // TensorFlow.js asks for the high-performance adapter; ours asks for the same one.
      const gpu = await api.Gpu.create({ powerPreference: "high-performance" });
      const adapter = [gpu.adapter.description, gpu.adapter.vendor, gpu.adapter.architecture]
        .filter((x) => x).join(", ");
      log("ours: compiling the resnet18 training step");
      let start = performance.now();
      const training = await api.TrainingStep.compile(gpu, api.resnet18({ numClasses: s.classes, stem: "imagenet" }), {
        batchSize: s.batch,
        inputShape: shape,
        optimizer: { lr: s.lr, momentum: s.momentum },
      });
      training.setBatch(images, labels);
      training.step();
      await gpu.idle();
      let firstStepMs = performance.now() - start;
      log("ours: training warm-up done in " + (firstStepMs / 1000).toFixed(1) + " s; timing " + s.steps + " steps");
      let stepMs = await time(s.steps, () => training.step(), () => gpu.idle());
      timings.push({ implementation: "ours", mode: "train", firstStepMs, stepMs });
      log("ours: training " + stepMs.toFixed(0) + " ms/step");
      if (s.inference) {
        start = performance.now();
        const inference = await api.Inference.compile(gpu, api.resnet18({ numClasses: s.classes, stem: "imagenet" }), {
          batchSize: s.batch,
          inputShape: shape,
        });
        gpu.write(inference.images.buffer, images, inference.images.offset);
        api.submit(gpu, inference.dispatches);
        await gpu.idle();
        firstStepMs = performance.now() - start;
        stepMs = await time(s.steps, () => api.submit(gpu, inference.dispatches), () => gpu.idle());
        timings.push({ implementation: "ours", mode: "inference", firstStepMs, stepMs });
        log("ours: inference " + stepMs.toFixed(0) + " ms/step");
      }
      gpu.device.destroy();

      let tfjsVersion, tfjsFailure;
      try {
        tfjsVersion = await peer.initTfjsWebGpu();
      } catch (error) {
        tfjsFailure = "TensorFlow.js WebGPU did not initialise: " + String(error);
      }
      if (tfjsVersion) {
        log("TensorFlow.js " + tfjsVersion + ": building resnet18");
        start = performance.now();
        const net = peer.TfjsResNet18.create({
          batchSize: s.batch,
          stem: "imagenet",
          numClasses: s.classes,
          imageSize: s.size,
          lr: s.lr,
          momentum: s.momentum,
        });
        net.trainStep();
        await net.idle();
        firstStepMs = performance.now() - start;
        log("TensorFlow.js: training warm-up done in " + (firstStepMs / 1000).toFixed(1) + " s; timing " + s.steps + " steps");
        stepMs = await time(s.steps, () => net.trainStep(), () => net.idle());
        timings.push({ implementation: "tfjs", mode: "train", firstStepMs, stepMs });
        log("TensorFlow.js: training " + stepMs.toFixed(0) + " ms/step");
        if (s.inference) {
          start = performance.now();
          net.infer();
          await net.idle();
          firstStepMs = performance.now() - start;
          stepMs = await time(s.steps, () => net.infer(), () => net.idle());
          timings.push({ implementation: "tfjs", mode: "inference", firstStepMs, stepMs });
          log("TensorFlow.js: inference " + stepMs.toFixed(0) + " ms/step");
        }
        net.dispose();
      }
      return { adapter, tfjsVersion, tfjsFailure, timings };
    };
    globalThis.bundlesLoaded = true;
    log("bundles loaded");
    </script>
  </body>
</html>
`;

/** Serves the page and the two bundles from memory on a free loopback port. */
function serve(files: Record<string, { body: Uint8Array<ArrayBuffer> | string; type: string }>) {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const file = files[new URL(request.url).pathname];
    if (!file) return new Response("not found", { status: 404 });
    return new Response(file.body, { headers: { "content-type": file.type, "cache-control": "no-store" } });
  });
}

function summary(outcome: Outcome, chromiumVersion: string): string {
  const rows: string[][] = [];
  const modes = INFERENCE ? ["train", "inference"] as const : ["train"] as const;
  for (const mode of modes) {
    const ours = outcome.timings.find((t) => t.implementation === "ours" && t.mode === mode);
    const tfjs = outcome.timings.find((t) => t.implementation === "tfjs" && t.mode === mode);
    const rate = (t?: Timing) => t ? BATCH / (t.stepMs / 1000) : NaN;
    const first = (t?: Timing) => t ? (t.firstStepMs / 1000).toFixed(1) : "—";
    rows.push([
      "resnet18 imagenet stem",
      mode,
      figure(rate(ours)),
      figure(rate(tfjs)),
      ours && tfjs ? `${figure(rate(ours) / rate(tfjs))}x` : "—",
      `${first(ours)} / ${first(tfjs)}`,
      outcome.adapter,
      chromiumVersion,
    ]);
  }
  return [
    `Browser bench, ${new Date().toISOString()}`,
    `Chromium ${chromiumVersion}; adapter: ${outcome.adapter}; peer: ${
      outcome.tfjsVersion ? `TensorFlow.js ${outcome.tfjsVersion} (tfjs-backend-webgpu)` : outcome.tfjsFailure
    }`,
    `batch ${BATCH}, input 3x32x32, ${SETTINGS.classes} classes, SGD lr ${SETTINGS.lr} momentum ` +
    `${SETTINGS.momentum}; one warm-up step, then ${STEPS} steps enqueued back to back and one wait ` +
    "(no readback), in one page",
    "",
    markdownTable(
      [
        "model (32x32)",
        "step",
        "ours img/s",
        "TF.js img/s",
        "ours / TF.js",
        "warm-up step s (ours / TF.js)",
        "adapter",
        "Chromium",
      ],
      rows,
    ),
  ].join("\n");
}

async function main(): Promise<void> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(`Chromium is not installed at ${CHROMIUM}; set CHROMIUM to a Chromium binary`);
  }
  const dir = await Deno.makeTempDir({ prefix: "browser_bench_" });
  let server: Deno.HttpServer<Deno.NetAddr> | undefined;
  let browser: Browser | undefined;
  const log: string[] = [];
  let gpuErrors = 0;
  try {
    const started = performance.now();
    const [ours, tfjs] = await Promise.all([
      bundle("web.ts", dir, "resnet.js"),
      bundle("bench/tfjs_peer.ts", dir, "tfjs.js"),
    ]);
    console.log(`bundled: web.ts ${ours.length} bytes, TF.js page ${tfjs.length} bytes`);
    const js = "text/javascript; charset=utf-8";
    server = serve({
      "/": { body: PAGE, type: "text/html; charset=utf-8" },
      "/resnet.js": { body: ours, type: js },
      "/tfjs.js": { body: tfjs, type: js },
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS], headless: true });
    const chromiumVersion = browser.version();
    const page = await browser.newPage();
    page.setDefaultTimeout(PAGE_TIMEOUT_MS);
    page.on("console", (message) => {
      // Chromium reports WebGPU validation errors on the console; a dropped command buffer voids a timing.
      if (/\bWhile (calling|encoding|finishing)\b/.test(message.text())) gpuErrors++;
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      console.log(`[page ${seconds} s] ${message.text()}`);
    });
    page.on("pageerror", (error) => log.push(`page error: ${error.message}`));
    await page.goto(`http://127.0.0.1:${server.addr.port}/`);
    await page.waitForFunction(
      () => (globalThis as { bundlesLoaded?: boolean }).bundlesLoaded === true,
      null,
      {
        polling: POLL_MS,
        timeout: 60_000,
      },
    );
    const outcome = await within(
      page.evaluate(
        (s) => (globalThis as unknown as { runBench(s: Settings): Promise<Outcome> }).runBench(s),
        SETTINGS,
      ),
      PAGE_TIMEOUT_MS,
    );
    console.log(`\n${summary(outcome, chromiumVersion)}`);
    if (gpuErrors > 0) {
      console.log(
        `\nWARNING: the page reported ${gpuErrors} WebGPU validation error(s); the figures may be void`,
      );
    }
  } catch (error) {
    throw new Error(`browser bench: ${(error as Error).message}\n${log.join("\n")}`, { cause: error });
  } finally {
    await browser?.close();
    await server?.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

await main();
