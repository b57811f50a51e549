/**
 * The browser build in a real browser: `deno task bundle:web` bundles `web.ts`, a tiny server serves the
 * repository, and headless Chromium (Debian's `chromium`, on SwiftShader's WebGPU adapter) loads the bundle,
 * compiles a resnet20 with fixed weights, runs it, trains three steps on generated data through the GPU
 * batcher, and runs it again. The same scenario (`scenario.js`) runs in this Deno process, and the two must
 * agree. Then the demo page (`examples/web/`) fetches weights by URL, reads a generated CIFAR-10 `.tar.gz` as a
 * user would pick it, trains on it, predicts on a dropped image and saves the weights. Chromium is driven by
 * playwright-core over the DevTools protocol, with the system's browser.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { type Browser, chromium, type Page } from "playwright-core";
import * as web from "../../web.ts";
import { resnet20 } from "../../src/models/resnet.ts";
import { decodeSafetensors, encodeSafetensors } from "../../src/io/safetensors.ts";
import { deterministicStateDict } from "../_weights.ts";
import { relativeError, testGpu } from "../_gpu.ts";
import { archiveOf, CIFAR10_CLASSES, cifarFixture } from "../data/_cifar_fixture.ts";
import { scenario, SIZES } from "./scenario.js";
import { CHROMIUM, CHROMIUM_ARGS, POLL_MS, within } from "../../tools/_chromium.ts";

/** Longest the page may take for the whole scenario (SwiftShader compiles every pipeline on the CPU). */
const PAGE_TIMEOUT_MS = 300_000;

// float32 on two different software adapters (Mesa's llvmpipe under Deno, SwiftShader in Chromium) with the
// same kernels: they differ only by rounding (fused multiply-adds, transcendental functions), relative to
// each array's largest absolute value.
const LOGITS_TOLERANCE = 1e-4;
const LOSS_TOLERANCE = 1e-4;
const TRAINED_LOGITS_TOLERANCE = 5e-4;

const ROOT = new URL("../../", import.meta.url);
const BUNDLE = new URL("examples/web/dist/resnet.js", ROOT);

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".map": "application/json",
  ".json": "application/json",
};

async function requireChromium(): Promise<void> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}: the browser test needs it. Install Debian's package ` +
        "(`apt-get install -y chromium`, which .ci/run does) or set CHROMIUM to a Chromium binary.",
    );
  }
}

async function bundle(): Promise<void> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["task", "bundle:web"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  assert.equal(code, 0, `deno task bundle:web failed:\n${text.decode(stdout)}${text.decode(stderr)}`);
}

/** Serves the repository's files read-only, and `extra` from memory, on a free loopback port. */
function serve(extra: Record<string, Uint8Array<ArrayBuffer>>): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    let path = decodeURIComponent(new URL(request.url).pathname);
    if (path.endsWith("/")) path += "index.html";
    const headers = { "cache-control": "no-store" };
    if (path in extra) {
      return new Response(extra[path], {
        headers: { ...headers, "content-type": "application/octet-stream" },
      });
    }
    if (path.split("/").includes("..")) return new Response("bad path", { status: 400 });
    try {
      const bytes = await Deno.readFile(new URL(`.${path}`, ROOT));
      const type = TYPES[path.slice(path.lastIndexOf("."))] ?? "application/octet-stream";
      return new Response(bytes, { headers: { ...headers, "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
}

interface Outcome {
  adapter: string;
  dataChecksum: number;
  logits: number[];
  losses: number[];
  accuracies: number[];
  logitsAfter: number[];
}

/** Runs `drive` on a new page of a new headless Chromium; its errors carry the page's console. */
async function withPage<T>(drive: (page: Page) => Promise<T>): Promise<T> {
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [...CHROMIUM_ARGS],
    headless: true,
  });
  const log: string[] = [];
  try {
    const page = await browser.newPage();
    page.on("console", (message) => log.push(`console.${message.type()}: ${message.text()}`));
    page.on("pageerror", (error) => log.push(`page error: ${error.message}`));
    return await drive(page);
  } catch (error) {
    throw new Error(`in Chromium: ${(error as Error).message}\n${log.join("\n")}`, { cause: error });
  } finally {
    await browser.close();
  }
}

function inChromium(url: string): Promise<Outcome> {
  return withPage(async (page) => {
    await page.goto(url);
    await page.waitForFunction(() => (globalThis as { bundleLoaded?: boolean }).bundleLoaded === true, null, {
      polling: POLL_MS,
      timeout: 30_000,
    });
    return await within(
      page.evaluate(() => (globalThis as unknown as { runScenario(): Promise<Outcome> }).runScenario()),
      PAGE_TIMEOUT_MS,
    );
  });
}

/** A resnet20's deterministic weights (`tests/_weights.ts`) as a safetensors file. */
function fixedWeights(): Uint8Array<ArrayBuffer> {
  const names = [...resnet20({ numClasses: SIZES.classes }).stateDict()].map(([name, t]) =>
    [name, t.shape] as [string, number[]]
  );
  return new Uint8Array(encodeSafetensors(deterministicStateDict(names, 11)));
}

let preparation: Promise<void> | undefined;

/** Checks for Chromium and bundles once for every test of this file. */
function prepared(): Promise<void> {
  preparation ??= (async () => {
    await requireChromium();
    await bundle();
    const code = await Deno.readTextFile(BUNDLE);
    assert.doesNotMatch(code, /\bDeno\./, "the bundle refers to the Deno namespace");
    assert.doesNotMatch(code, /["']node:/, "the bundle imports a node: module");
  })();
  return preparation;
}

function assertCloseTo(actual: number[], expected: number[], tolerance: number, what: string): number {
  const error = relativeError(actual, expected);
  assert.ok(
    error <= tolerance,
    `${what}: relative error ${error.toExponential(3)} exceeds ${tolerance}\n` +
      `  Chromium ${actual.slice(0, 6).join(", ")}\n  Deno     ${expected.slice(0, 6).join(", ")}`,
  );
  return error;
}

Deno.test({
  name: "the bundle in headless Chromium gives the logits and losses that Deno gives",
  // playwright-core keeps its pipe to the browser and a few timers past close.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await prepared();
    const weights = fixedWeights();
    const server = serve({ "/fixed.safetensors": weights });
    try {
      const started = performance.now();
      const browser = await inChromium(`http://127.0.0.1:${server.addr.port}/tests/web/page.html`);
      const browserSeconds = (performance.now() - started) / 1000;
      const deno = await scenario(web, await testGpu(), weights) as Outcome;

      assert.equal(browser.dataChecksum, deno.dataChecksum, "the generated training images differ");
      const errors = {
        logits: assertCloseTo(browser.logits, deno.logits, LOGITS_TOLERANCE, "logits of the fixed model"),
        losses: assertCloseTo(browser.losses, deno.losses, LOSS_TOLERANCE, "training losses"),
        trained: assertCloseTo(
          browser.logitsAfter,
          deno.logitsAfter,
          TRAINED_LOGITS_TOLERANCE,
          "logits after training",
        ),
      };
      assert.deepEqual(browser.accuracies, deno.accuracies, "training accuracies");
      const relative = Object.entries(errors).map(([what, error]) => `${what} ${error.toExponential(2)}`);
      console.log(
        `Chromium on "${browser.adapter}" in ${browserSeconds.toFixed(1)} s; Deno on "${deno.adapter}"; ` +
          `relative errors: ${relative.join(", ")}`,
      );
    } finally {
      await server.shutdown();
    }
  },
});

/** Page-side code (run in Chromium, so written as text: this file is checked without the DOM's types). */
const ON_PAGE = {
  modelReady: `document.getElementById("model-status").textContent.includes("parameters")`,
  weightsLoaded: `/weights from|weights:/.test(document.getElementById("model-status").textContent +
    document.getElementById("log").textContent)`,
  dataRead: `/CIFAR-10: \\d+ training/.test(document.getElementById("data-status").textContent) ||
    document.getElementById("log").textContent.includes("data:")`,
  trained: `/done|training:/.test(document.getElementById("log").textContent)`,
  predicted: `document.getElementById("scores").textContent.includes("%")`,
  // An image dropped onto the drop zone, as a file manager would drop it.
  dropImage: `(async () => {
    const canvas = new OffscreenCanvas(40, 40);
    const g = canvas.getContext("2d");
    g.fillStyle = "#3060a0";
    g.fillRect(0, 0, 40, 40);
    g.fillStyle = "#f0d040";
    g.fillRect(10, 10, 20, 20);
    const blob = await canvas.convertToBlob({ type: "image/png" });
    const transfer = new DataTransfer();
    transfer.items.add(new File([blob], "square.png", { type: "image/png" }));
    document.getElementById("drop").dispatchEvent(
      new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }),
    );
  })()`,
};

Deno.test({
  name: "the demo page fetches weights, reads a CIFAR-10 .tar.gz, trains, predicts on a dropped image, saves",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await prepared();
    // Five training files of 4 records and a test file of 8: 20 training images, 2 steps of 8, 1 epoch.
    const fixture = cifarFixture("cifar10", { trainPerFile: 4, test: 8 });
    const archive = await archiveOf("cifar10", fixture.files);
    const server = serve({ "/weights/resnet20.safetensors": fixedWeights() });
    try {
      const started = performance.now();
      const outcome = await withPage(async (page) => {
        const text = async (id: string) => await page.locator(`#${id}`).textContent({ timeout: 5_000 }) ?? "";
        await page.goto(`http://127.0.0.1:${server.addr.port}/examples/web/`);
        await page.waitForFunction(ON_PAGE.modelReady, null, { polling: POLL_MS, timeout: 60_000 });
        assert.equal(await page.locator("#banner").isVisible(), false, `banner: ${await text("banner")}`);
        await page.fill("#weights-url", "/weights/resnet20.safetensors");
        await page.click("#weights-fetch");
        await page.waitForFunction(ON_PAGE.weightsLoaded, null, { polling: POLL_MS, timeout: 30_000 });
        const model = await text("model-status");
        await page.setInputFiles("#cifar-files", {
          name: "cifar-10-binary.tar.gz",
          mimeType: "application/gzip",
          buffer: Buffer.from(archive),
        });
        await page.waitForFunction(ON_PAGE.dataRead, null, { polling: POLL_MS, timeout: 60_000 });
        const data = await text("data-status");
        await page.fill("#epochs", "1");
        await page.fill("#batch", "8");
        await page.click("#train");
        await page.waitForFunction(ON_PAGE.trained, null, { polling: POLL_MS, timeout: PAGE_TIMEOUT_MS });
        const log = await text("log");
        await page.evaluate(ON_PAGE.dropImage);
        await page.waitForFunction(ON_PAGE.predicted, null, { polling: POLL_MS, timeout: 60_000 });
        const [download] = await Promise.all([page.waitForEvent("download"), page.click("#save")]);
        const saved = await Deno.readFile((await download.path())!);
        return {
          model,
          data,
          log,
          scores: await text("scores"),
          saved,
          savedName: download.suggestedFilename(),
        };
      });
      const seconds = (performance.now() - started) / 1000;
      assert.equal(
        outcome.model,
        "resnet20, 0.27 M parameters, weights from /weights/resnet20.safetensors.",
      );
      assert.equal(outcome.data, "CIFAR-10: 20 training and 8 test images.");
      assert.match(
        outcome.log,
        /epoch 1\/1: loss \d+\.\d+, training accuracy [\d.]+%, test accuracy [\d.]+% on 8 /,
      );
      assert.match(outcome.log, /done: 2 steps/);
      const named = CIFAR10_CLASSES.filter((name) => outcome.scores.includes(`${name}: `));
      assert.equal(named.length, 5, `the top 5 of the prediction name CIFAR-10's classes: ${outcome.scores}`);
      // The trained weights it saves load back, and differ from the ones it fetched.
      assert.equal(outcome.savedName, "resnet20.safetensors");
      const saved = decodeSafetensors(outcome.saved, "the saved weights").tensors;
      const fetched = decodeSafetensors(fixedWeights(), "the fetched weights").tensors;
      assert.deepEqual([...saved.keys()].sort(), [...fetched.keys()].sort());
      assert.notDeepEqual(
        saved.get("fc.weight")!.data,
        fetched.get("fc.weight")!.data,
        "training changed nothing",
      );
      assert.equal(
        saved.get("bn1.num_batches_tracked")!.data[0],
        (fetched.get("bn1.num_batches_tracked")!.data[0] as bigint) + 2n,
      );
      console.log(`the demo page read the archive, trained, predicted and saved in ${seconds.toFixed(1)} s`);
    } finally {
      await server.shutdown();
    }
  },
});
