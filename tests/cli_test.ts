import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PNG } from "pngjs";
import jpeg from "jpeg-js";
import { archiveOf, CIFAR10_CLASSES, cifarFixture } from "./data/_cifar_fixture.ts";
import { metricsOf, tensorsOf } from "./train/_runs.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** A generated CIFAR-10 archive, two images and a corrupt one, and an empty cache folder. */
interface Workspace {
  dir: string;
  archive: string;
  png: string;
  jpeg: string;
  corrupt: string;
  cache: string;
}

let workspace: Promise<Workspace> | undefined;

function setUp(): Promise<Workspace> {
  workspace ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "cli_test_" });
    const archive = join(dir, "cifar-10-binary.tar.gz");
    // 5 files of 4 training images and 8 test images.
    await Deno.writeFile(
      archive,
      await archiveOf("cifar10", cifarFixture("cifar10", { trainPerFile: 4, test: 8 }).files),
    );
    const rgba = new Uint8Array(40 * 30 * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * 37) % 256));
    const png = new PNG({ width: 40, height: 30 });
    png.data = Buffer.from(rgba);
    await Deno.writeFile(join(dir, "a.png"), new Uint8Array(PNG.sync.write(png)));
    await Deno.writeFile(
      join(dir, "b.jpg"),
      new Uint8Array(jpeg.encode({ data: rgba, width: 40, height: 30 }, 90).data),
    );
    await Deno.writeFile(join(dir, "corrupt.png"), new Uint8Array(PNG.sync.write(png)).subarray(0, 60));
    const cache = join(dir, "cache");
    await Deno.mkdir(cache);
    return {
      dir,
      archive,
      png: join(dir, "a.png"),
      jpeg: join(dir, "b.jpg"),
      corrupt: join(dir, "corrupt.png"),
      cache,
    };
  })();
  return workspace;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[]): Promise<Run> {
  const { cache } = await setUp();
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "cli.ts", ...args],
    cwd: ROOT,
    env: { XDG_CACHE_HOME: cache, TORCH_HOME: join(cache, "torch"), NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

/** Trains ResNet-20 for `epochs` short epochs (8 images in batches of 2) into a new folder. */
function quickTrain(ws: Workspace, out: string, epochs: number, extra: string[] = []): string[] {
  return [
    "train",
    "--data",
    ws.archive,
    "--limit",
    "8",
    "--batch-size",
    "2",
    "--epochs",
    String(epochs),
    "--out",
    out,
    "--no-tune",
    ...extra,
  ];
}

let trained: Promise<{ out: string; run: Run }> | undefined;

/** One uninterrupted two-epoch run, shared by the tests that need a trained model. */
function trainedRun(): Promise<{ out: string; run: Run }> {
  trained ??= (async () => {
    const ws = await setUp();
    const out = join(ws.dir, "whole");
    return { out, run: await cli(quickTrain(ws, out, 2, ["--json", "--seed", "5"])) };
  })();
  return trained;
}

Deno.test("train, then eval and predict on the result, all with --json", async () => {
  const ws = await setUp();
  const { out, run } = await trainedRun();
  assert.equal(run.code, 0, run.stderr);
  const result = JSON.parse(run.stdout);
  assert.equal(result.status, "completed");
  assert.equal(result.epochs.length, 2);
  assert.equal(result.step, 8);
  assert.equal(result.checkpoint, join(out, "last.safetensors"));
  for (
    const file of [
      "last.safetensors",
      "last.json",
      "last.optimizer.safetensors",
      "best.safetensors",
      "metrics.jsonl",
      "report.html",
    ]
  ) {
    assert.ok((await Deno.stat(join(out, file))).isFile, file);
  }
  assert.match(run.stderr, /WebGPU adapter: /);

  const evaluation = await cli(["eval", "--checkpoint", out, "--data", ws.archive, "--limit", "8", "--json"]);
  assert.equal(evaluation.code, 0, evaluation.stderr);
  const scores = JSON.parse(evaluation.stdout);
  assert.equal(scores.model, "resnet20");
  assert.equal(scores.split, "test");
  assert.equal(scores.samples, 8);
  assert.deepEqual(scores.classes, CIFAR10_CLASSES);
  assert.equal(scores.confusion.flat().reduce((a: number, b: number) => a + b, 0), 8);
  assert.ok(scores.top1 >= 0 && scores.top1 <= scores.top5 && scores.top5 <= 1 && scores.loss > 0);
  assert.equal(scores.perClass.length, 10);

  const prediction = await cli(["predict", "--checkpoint", out, "--top-k", "3", "--json", ws.png, ws.jpeg]);
  assert.equal(prediction.code, 0, prediction.stderr);
  const { predictions } = JSON.parse(prediction.stdout);
  assert.deepEqual(predictions.map((p: { file: string }) => p.file), [ws.png, ws.jpeg]);
  for (const p of predictions) {
    assert.equal(p.top.length, 3);
    assert.ok(p.top.every((c: { name: string }) => CIFAR10_CLASSES.includes(c.name)));
    assert.ok(p.top[0].probability >= p.top[1].probability && p.top[1].probability >= p.top[2].probability);
  }
});

Deno.test("Ctrl-C saves and tells how to resume, and the resumed run ends as the uninterrupted one", async () => {
  const ws = await setUp();
  const out = join(ws.dir, "interrupted");
  const { cache } = ws;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "cli.ts", ...quickTrain(ws, out, 2, ["--seed", "5"])],
    cwd: ROOT,
    env: { XDG_CACHE_HOME: cache, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let stdout = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    stdout += decoder.decode(chunk, { stream: true });
    // The first epoch is saved: stop the second one in its middle.
    if (/^epoch 1\/2 +train loss/m.test(stdout) && !stdout.includes("signalled")) {
      child.kill("SIGINT");
      stdout += "signalled\n";
    }
  }
  const status = await child.status;
  assert.equal(status.code, 130, `${stdout}\n${await stderr}`);
  assert.match(await stderr, /interrupted: finishing this step and saving/);
  assert.match(stdout, /stopped at epoch 2, batch \d of 4; saved .*last\.safetensors/);
  assert.match(stdout, new RegExp(`resume with: deno run -A cli\\.ts train --resume ${out}`));

  const clash = await cli(["train", "--resume", out, "--lr", "0.5"]);
  assert.equal(clash.code, 2);
  assert.match(clash.stderr, /--lr cannot be combined with --resume/);
  const tuningClash = await cli(["train", "--resume", out, "--no-tune"]);
  assert.equal(tuningClash.code, 2);
  assert.match(tuningClash.stderr, /--no-tune cannot be combined with --resume/);

  // As printed: the run remembers its --data, and the kernels it ran with (untuned here).
  const resumed = await cli(["train", "--resume", out, "--no-download", "--json"]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /Convolution tuning: the run's own \(.*tuning\.json\)/);
  assert.doesNotMatch(resumed.stderr, /Tuning the convolution kernels/);
  assert.equal(JSON.parse(resumed.stdout).status, "completed");
  const { out: whole, run } = await trainedRun();
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(
    await tensorsOf(join(out, "last.safetensors")),
    await tensorsOf(join(whole, "last.safetensors")),
  );
  // The interrupted epoch's sums continue on the GPU as they were: its metrics are the same digits.
  assert.deepEqual(
    await metricsOf(join(out, "metrics.jsonl")),
    await metricsOf(join(whole, "metrics.jsonl")),
  );
});

Deno.test("--data synthetic trains offline, and eval reads the run's data from its checkpoint", async () => {
  const ws = await setUp();
  const out = join(ws.dir, "synthetic");
  const args = ["train", "--data", "synthetic", "--limit", "8", "--batch-size", "2", "--epochs", "1"];
  const run = await cli([...args, "--out", out, "--no-tune", "--no-download", "--json"]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /data: synthetic shapes \(seed 0, 10 classes, 32x32\)/);
  assert.equal(JSON.parse(run.stdout).status, "completed");
  const evaluation = await cli(["eval", "--checkpoint", out, "--limit", "8", "--no-download", "--json"]);
  assert.equal(evaluation.code, 0, evaluation.stderr);
  const scores = JSON.parse(evaluation.stdout);
  assert.equal(scores.dataset, "synthetic");
  assert.equal(scores.samples, 8);
  assert.deepEqual(scores.classes.slice(0, 3), ["circle", "ring", "square"]);
});

/** Writes synthetic shapes of two classes as PNGs: `root/train/<class>/` and `root/val/<class>/`. */
async function shapeFolder(root: string, train: number, val: number): Promise<void> {
  const { syntheticDataset } = await import("../src/data/synthetic.ts");
  const splits = syntheticDataset({ classes: 2, train, test: val, seed: 1 });
  for (const [folder, data] of [["train", splits.train], ["val", splits.test]] as const) {
    const plane = data.height * data.width;
    for (let i = 0; i < data.count; i++) {
      const rgba = new Uint8Array(plane * 4);
      for (let p = 0; p < plane; p++) {
        for (let c = 0; c < 3; c++) rgba[p * 4 + c] = data.images[(i * 3 + c) * plane + p];
        rgba[p * 4 + 3] = 255;
      }
      const png = new PNG({ width: data.width, height: data.height });
      png.data = Buffer.from(rgba);
      const dir = join(root, folder, data.classes[data.labels[i]]);
      await Deno.mkdir(dir, { recursive: true });
      await Deno.writeFile(join(dir, `${i}.png`), new Uint8Array(PNG.sync.write(png)));
    }
  }
}

Deno.test("train learns on an image folder, then eval and predict use the run's preprocessing", async () => {
  const ws = await setUp();
  const photos = join(ws.dir, "photos");
  await shapeFolder(photos, 128, 64);
  await Deno.writeFile(join(photos, "train", "circle", "broken.png"), new Uint8Array(0));
  const out = join(ws.dir, "photos-run");
  const run = await cli([
    "train",
    "--data",
    photos,
    "--image-size",
    "32",
    "--epochs",
    "4",
    "--batch-size",
    "16",
    "--lr",
    "0.05",
    "--schedule",
    "cosine",
    "--out",
    out,
    "--no-tune",
    "--json",
  ]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /data: image folder .*photos \(2 classes, 128 training and 64 validation images/);
  assert.match(run.stderr, /warning: skipped 1 image[\s\S]*broken\.png/);
  const result = JSON.parse(run.stdout);
  assert.ok(result.best.testAccuracy >= 0.75, `best validation accuracy ${result.best.testAccuracy}`);
  const evaluation = await cli(["eval", "--checkpoint", out, "--json"]);
  assert.equal(evaluation.code, 0, evaluation.stderr);
  const scores = JSON.parse(evaluation.stdout);
  assert.equal(scores.samples, 64);
  assert.deepEqual(scores.classes, ["circle", "ring"]);
  assert.equal(scores.top1, result.best.testAccuracy);
  const prediction = await cli([
    "predict",
    "--checkpoint",
    out,
    "--json",
    join(photos, "val", "ring", [...Deno.readDirSync(join(photos, "val", "ring"))][0].name),
  ]);
  assert.equal(prediction.code, 0, prediction.stderr);
  assert.deepEqual(
    JSON.parse(prediction.stdout).predictions[0].top.map((c: { name: string }) => c.name).sort(),
    [
      "circle",
      "ring",
    ],
  );
});

Deno.test("each bad input gives its clear error and exit code", async () => {
  const ws = await setUp();
  const cases: Array<[string[], number, RegExp]> = [
    [["train", "--bogus"], 2, /Unknown option '--bogus'[\s\S]*cli\.ts train --help/],
    [["train", "--epochs", "two"], 2, /--epochs must be an integer of at least 1, got "two"/],
    [["train", "--model", "resnet99"], 2, /--model must be one of resnet18, .*; got "resnet99"/],
    [
      ["train", "--warmup", "5", "--epochs", "5"],
      2,
      /--warmup: warmup must be a whole number of epochs below epochs/,
    ],
    [
      ["train", "--no-download", "--out", join(ws.dir, "none")],
      1,
      /CIFAR-10 is not in .*cache.* downloading is turned off: download https:\/\/www\.cs\.toronto\.edu/,
    ],
    [["train", "--data", join(ws.dir, "nowhere")], 1, /nowhere does not exist/],
    [
      ["train", "--optimizer", "adam", "--nesterov"],
      2,
      /--nesterov: nesterov is SGD's momentum and does not apply to adam/,
    ],
    [["train", "--optimizer", "rmsprop"], 2, /--optimizer must be one of sgd, adam, adamw; got "rmsprop"/],
    [
      ["train", "--optimizer", "adam", "--betas", "0.9"],
      2,
      /--betas must be two numbers separated by a comma/,
    ],
    [["train", "--optimizer", "adamw", "--eps", "0"], 2, /--eps: eps must be positive, got 0/],
    [["eval"], 2, /--checkpoint is required/],
    [["predict", "--checkpoint", ws.dir], 2, /give at least one image file/],
    [["frobnicate"], 2, /unknown command "frobnicate"/],
    [
      ["train", "--data", ws.archive, "--tuning", ws.png, "--out", join(ws.dir, "none")],
      1,
      /a\.png: not a convolution tuning: not JSON/,
    ],
  ];
  for (const [args, code, message] of cases) {
    const run = await cli(args);
    assert.equal(run.code, code, `${args.join(" ")}: ${run.stderr}`);
    assert.match(run.stderr, message, args.join(" "));
  }
  const { out } = await trainedRun();
  const other = await cli(["eval", "--checkpoint", out, "--data", ws.archive, "--model", "resnet32"]);
  assert.equal(other.code, 1);
  assert.match(other.stderr, /best\.safetensors holds a resnet20, not a resnet32/);
  const corrupt = await cli(["predict", "--checkpoint", out, ws.png, ws.corrupt]);
  assert.equal(corrupt.code, 1);
  assert.match(corrupt.stderr, /corrupt\.png: corrupt or truncated PNG data/);
});

Deno.test("--help describes each command; summary prints the model table", async () => {
  const train = await cli(["train", "--help"]);
  assert.equal(train.code, 0);
  assert.match(train.stdout, /91\.25% test accuracy/);
  assert.match(train.stdout, /--optimizer NAME +sgd \(the default\), adam or adamw/);
  for (const command of ["eval", "predict", "summary"]) {
    const help = await cli([command, "-h"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, new RegExp(`Usage: deno run -A cli\\.ts ${command}`));
  }
  const table = await cli(["summary", "--model", "resnet18", "--json"]);
  assert.equal(table.code, 0, table.stderr);
  const parsed = JSON.parse(table.stdout);
  assert.equal(parsed.totalParameters, 11_689_512);
  assert.deepEqual(parsed.inputShape, [3, 224, 224]);
  const frozen = await cli(["summary", "--model", "resnet20", "--freeze", "backbone"]);
  assert.match(frozen.stdout, /Trainable params: 650\n/);
});
