// The demo page: load a ResNet (random or a .safetensors file), train it on CIFAR-10 records read in the
// page with a live loss and accuracy chart, and predict on a dropped image. Everything runs on the page's
// WebGPU through the bundle `deno task bundle:web` makes.

const $ = (id) => document.getElementById(id);

const CLASSES_FALLBACK = [
  "airplane",
  "automobile",
  "bird",
  "cat",
  "deer",
  "dog",
  "frog",
  "horse",
  "ship",
  "truck",
];

const state = {
  api: undefined,
  gpu: undefined,
  model: undefined,
  modelName: "",
  data: undefined, // { train, test, classes, name }
  training: undefined, // the TrainingStep, once trained
  stopping: false,
  busy: false,
  points: [], // { step, loss, accuracy }
  tests: [], // { step, accuracy }
};

function log(text) {
  const box = $("log");
  box.textContent += `${text}\n`;
  box.scrollTop = box.scrollHeight;
}

function fail(where, error) {
  console.error(error);
  log(`${where}: ${error.message ?? error}`);
  return error;
}

function banner(html) {
  const element = $("banner");
  element.innerHTML = html;
  element.classList.add("shown");
}

function disableAll() {
  for (const element of document.querySelectorAll("section button, section input, section select")) {
    element.disabled = true;
  }
}

// ---- start-up: the bundle and WebGPU ---------------------------------------------------------------------

async function start() {
  if (!("gpu" in navigator)) {
    banner(
      "This browser has no WebGPU (<code>navigator.gpu</code> is missing), so nothing here can run. " +
        "Use a recent Chrome or Edge (113 or later; on Linux, Chromium may need " +
        "<code>--enable-unsafe-webgpu</code>), Safari 26 or later, or Firefox 141 or later on Windows. " +
        (globalThis.isSecureContext
          ? ""
          : "WebGPU also needs a secure context: open the page over https or from localhost."),
    );
    disableAll();
    return;
  }
  try {
    state.api = await import("./dist/resnet.js");
  } catch (error) {
    banner(
      "The bundle <code>examples/web/dist/resnet.js</code> did not load: run <code>deno task bundle:web</code> " +
        `and reload. (${error.message})`,
    );
    disableAll();
    return;
  }
  const noAdapter =
    "This browser has WebGPU but offers no adapter for it, so nothing here can run. Turn on " +
    "hardware acceleration in the browser's settings and update the graphics driver; chrome://gpu tells what " +
    "Chrome sees (on Linux, Chromium may need <code>--enable-unsafe-webgpu</code>).";
  try {
    if (!await navigator.gpu.requestAdapter()) {
      banner(noAdapter);
      disableAll();
      return;
    }
    state.gpu = await state.api.Gpu.create();
  } catch (error) {
    banner(`WebGPU gave no usable device: ${error.message}`);
    disableAll();
    return;
  }
  const adapter = state.gpu.adapter;
  const names = [adapter.vendor, adapter.architecture].filter(Boolean).join(", ");
  $("adapter").textContent = "WebGPU adapter: " +
    (adapter.description === "unknown adapter"
      ? names
      : `${adapter.description}${names ? ` (${names})` : ""}`) +
    (adapter.isFallbackAdapter
      ? ". It is a software fallback, which runs on the CPU: expect it to be slow (try a few hundred training images)."
      : "");
  state.gpu.device.lost.then((info) => {
    if (info.reason !== "destroyed") banner(`The WebGPU device was lost: ${info.message}. Reload the page.`);
  });
  randomInit();
}

// ---- the model -------------------------------------------------------------------------------------------

function buildModel() {
  const name = $("arch").value;
  const options = { numClasses: 10, seed: Number($("seed").value) || 0 };
  if (name === "resnet18") options.stem = "cifar";
  return { name, model: state.api.buildModel(name, options) };
}

function setModel(name, model, how) {
  state.model = model;
  state.modelName = name;
  state.training = undefined;
  state.inference = undefined;
  const count = model.parameters().reduce((sum, p) => sum + p.size, 0);
  $("model-status").textContent = `${name}, ${(count / 1e6).toFixed(2)} M parameters, ${how}.`;
  $("save").disabled = false;
  updateTrainButton();
}

function randomInit() {
  try {
    const { name, model } = buildModel();
    setModel(name, model, `random init (seed ${$("seed").value || 0})`);
  } catch (error) {
    $("model-status").textContent = fail("model", error).message;
  }
}

function loadWeights(bytes, source) {
  const { name, model } = buildModel();
  const { tensors } = state.api.decodeSafetensors(bytes, source);
  model.loadStateDict(tensors, { source });
  setModel(name, model, `weights from ${source}`);
}

async function loadWeightsFile(file) {
  try {
    loadWeights(new Uint8Array(await file.arrayBuffer()), file.name);
  } catch (error) {
    $("model-status").textContent = fail("weights", error).message;
  }
}

async function fetchWeights() {
  const url = $("weights-url").value.trim();
  if (!url) return;
  $("model-status").textContent = `Fetching ${url}…`;
  try {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${response.statusText}`);
    loadWeights(new Uint8Array(await response.arrayBuffer()), url);
  } catch (error) {
    $("model-status").textContent = fail("weights", error).message;
  }
}

// ---- CIFAR-10 from the official archive, read in the page ------------------------------------------------

/** All of a stream's bytes, reporting the bytes read so far. */
async function readAll(stream, progress) {
  const chunks = [];
  let length = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    length += value.length;
    progress?.(length);
  }
  const out = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** The regular files of a tar archive, by their name without folders. */
function untar(bytes) {
  const files = new Map();
  const text = (start, length) => {
    let end = start;
    while (end < start + length && bytes[end] !== 0) end++;
    return new TextDecoder().decode(bytes.subarray(start, end));
  };
  let longName;
  for (let at = 0; at + 512 <= bytes.length;) {
    if (bytes[at] === 0) break; // the two zero blocks at the end
    const size = parseInt(text(at + 124, 12).trim() || "0", 8);
    const type = String.fromCharCode(bytes[at + 156] || 48);
    const prefix = text(at + 345, 155);
    let name = longName ?? (prefix ? `${prefix}/${text(at, 100)}` : text(at, 100));
    longName = undefined;
    const body = bytes.subarray(at + 512, at + 512 + size);
    if (type === "L") longName = text(at + 512, size);
    else if (type === "0" || type === "7") {
      name = name.slice(name.lastIndexOf("/") + 1);
      files.set(name, body);
    }
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

async function readCifarFiles(fileList) {
  const status = $("data-status");
  const files = new Map();
  for (const file of fileList) {
    if (/\.(tar\.gz|tgz|tar)$/i.test(file.name)) {
      let read = 0;
      let stream = file.stream().pipeThrough(
        new TransformStream({
          transform(chunk, controller) {
            read += chunk.length;
            controller.enqueue(chunk);
          },
        }),
      );
      if (!/\.tar$/i.test(file.name)) stream = stream.pipeThrough(new DecompressionStream("gzip"));
      const tar = await readAll(stream, (unpacked) => {
        status.textContent = `Reading ${file.name}: ${(read / 1e6).toFixed(0)} of ${
          (file.size / 1e6).toFixed(0)
        } MB, ${(unpacked / 1e6).toFixed(0)} MB unpacked…`;
      });
      for (const [name, bytes] of untar(tar)) files.set(name, bytes);
    } else {
      files.set(file.name, new Uint8Array(await file.arrayBuffer()));
    }
  }
  const api = state.api;
  const layout = api.CIFAR_LAYOUTS.cifar10;
  const pick = (names) =>
    names.filter((name) => files.has(name)).map((name) => ({ where: name, bytes: files.get(name) }));
  const train = pick(layout.trainFiles), test = pick(layout.testFiles);
  if (train.length === 0) {
    throw new Error(
      `found none of ${layout.trainFiles.join(", ")} in what was picked (${
        [...files.keys()].join(", ") || "nothing"
      }); ` +
        `pick ${layout.archive} from ${layout.url}`,
    );
  }
  const meta = files.get(layout.classFiles.label);
  const classes = meta ? api.parseClassNames(meta, 10, layout.classFiles.label) : CLASSES_FALLBACK;
  const stats = { mean: layout.mean, std: layout.std };
  const trainSet = { ...api.assembleCifarSplit(layout, train, "label", classes), ...stats };
  const testSet = test.length > 0
    ? { ...api.assembleCifarSplit(layout, test, "label", classes), ...stats }
    : undefined;
  return { train: trainSet, test: testSet, classes, name: "CIFAR-10" };
}

async function pickCifar(fileList) {
  if (fileList.length === 0) return;
  const status = $("data-status");
  try {
    state.data = await readCifarFiles(fileList);
    const { train, test } = state.data;
    status.textContent = `CIFAR-10: ${train.count} training and ${test?.count ?? 0} test images.`;
  } catch (error) {
    state.data = undefined;
    status.textContent = fail("data", error).message;
  }
  updateTrainButton();
}

function useSynthetic() {
  const { train, test } = state.api.syntheticDataset({ seed: 0, size: 32, train: 5000, test: 1000 });
  state.data = { train, test, classes: train.classes, name: "generated shapes" };
  $("data-status").textContent =
    `Generated shapes: ${train.count} training and ${test.count} test images of ${train.classes.length} classes ` +
    `(${train.classes.join(", ")}).`;
  updateTrainButton();
}

/** The first `count` images of a data set. */
function firstImages(dataset, count) {
  if (count >= dataset.count) return dataset;
  const perImage = dataset.channels * dataset.height * dataset.width;
  return state.api.imageDataset({
    ...dataset,
    images: dataset.images.subarray(0, count * perImage),
    labels: dataset.labels.subarray(0, count),
  });
}

// ---- training --------------------------------------------------------------------------------------------

function updateTrainButton() {
  $("train").disabled = state.busy || !state.model || !state.data;
}

async function train() {
  const api = state.api, gpu = state.gpu;
  const epochs = Math.max(1, Number($("epochs").value) || 1);
  const batchSize = Math.max(1, Number($("batch").value) || 128);
  const lr = Number($("lr").value) || 0.1;
  const data = firstImages(state.data.train, Math.max(1, Number($("train-count").value) || 5000));
  const test = state.data.test && firstImages(state.data.test, 1000);
  state.busy = true;
  state.stopping = false;
  updateTrainButton();
  $("stop").disabled = false;
  state.points = [];
  state.tests = [];
  try {
    const batcher = api.GpuBatcher.create(gpu, data, {
      batchSize: Math.min(batchSize, data.count),
      shuffle: true,
      augment: true,
      seed: 0,
      dropLast: true,
    });
    log(`compiling ${state.modelName} for batches of ${batcher.images.shape[0]}…`);
    const compiling = performance.now();
    const training = await api.TrainingStep.compile(gpu, state.model, {
      batchSize: batcher.images.shape[0],
      inputShape: [3, 32, 32],
      optimizer: { lr, momentum: 0.9, weightDecay: 5e-4, nesterov: true },
      input: { images: batcher.images, labels: batcher.labels, dispatches: batcher.dispatches },
    });
    log(`compiled in ${((performance.now() - compiling) / 1000).toFixed(1)} s`);
    state.training = training;
    state.inference = undefined;
    const steps = epochs * batcher.batchesPerEpoch;
    const schedule = api.cosineAnnealingLr(lr, { tMax: steps });
    const readEvery = Math.max(1, Math.round(batcher.batchesPerEpoch / 20));
    let step = 0;
    const started = performance.now();
    for (let epoch = 0; epoch < epochs && !state.stopping; epoch++) {
      for (let b = 0; b < batcher.batchesPerEpoch && !state.stopping; b++) {
        batcher.select(epoch, b);
        training.step(schedule(step));
        step++;
        if (step % readEvery === 0 || b === batcher.batchesPerEpoch - 1) {
          const stats = await training.readStats();
          state.points.push({ step, loss: stats.loss, accuracy: stats.accuracy });
          drawChart(steps);
        }
      }
      const seconds = (performance.now() - started) / 1000;
      const last = state.points.at(-1);
      let line = `epoch ${epoch + 1}/${epochs}: loss ${last.loss.toFixed(3)}, training accuracy ${
        (100 * last.accuracy).toFixed(1)
      }%`;
      if (test) {
        const accuracy = await testAccuracy(training, test);
        state.tests.push({ step, accuracy });
        line += `, test accuracy ${(100 * accuracy).toFixed(1)}% on ${test.count}`;
        drawChart(steps);
      }
      log(`${line} (${seconds.toFixed(0)} s)`);
    }
    await training.model.download(); // the trained weights back into the model, for saving and predicting
    log(state.stopping ? `stopped after ${step} steps` : `done: ${step} steps`);
  } catch (error) {
    fail("training", error);
  } finally {
    state.busy = false;
    $("stop").disabled = true;
    updateTrainButton();
  }
}

/** Top-1 accuracy on `test`, batches made by a GPU batcher and run by the trained parameters. */
async function testAccuracy(training, test) {
  const api = state.api, gpu = state.gpu;
  const batch = training.images.shape[0];
  const batcher = api.GpuBatcher.create(gpu, test, {
    batchSize: batch,
    shuffle: false,
    augment: false,
    seed: 0,
    dropLast: false,
    mean: state.data.train.mean,
    std: state.data.train.std,
  }, { label: "test data" });
  const inference = await training.inference(batch, batcher.images);
  let correct = 0;
  for (let b = 0; b < batcher.batchesPerEpoch; b++) {
    const count = batcher.select(0, b);
    api.submit(gpu, [...batcher.dispatches, ...inference.dispatches]);
    const classes = inference.classes;
    const logits = await gpu.readFloats(
      inference.logits.buffer,
      inference.logits.offset / 4,
      count * classes,
    );
    for (let i = 0; i < count; i++) {
      if (argmax(logits.subarray(i * classes, (i + 1) * classes)) === test.labels[b * batch + i]) correct++;
    }
  }
  return correct / test.count;
}

function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

// ---- the chart -------------------------------------------------------------------------------------------

function drawChart(totalSteps) {
  const canvas = $("chart");
  const scale = globalThis.devicePixelRatio || 1;
  const width = canvas.clientWidth, height = canvas.clientHeight;
  if (canvas.width !== width * scale) {
    canvas.width = width * scale;
    canvas.height = height * scale;
  }
  const g = canvas.getContext("2d");
  g.setTransform(scale, 0, 0, scale, 0, 0);
  g.clearRect(0, 0, width, height);
  const left = 48, right = 52, top = 30, bottom = 30;
  const w = width - left - right, h = height - top - bottom;
  const maxLoss = Math.max(2.5, ...state.points.map((p) => p.loss));
  const x = (step) => left + (w * step) / Math.max(1, totalSteps);
  const yLoss = (loss) => top + h * (1 - loss / maxLoss);
  const yAccuracy = (accuracy) => top + h * (1 - accuracy);

  g.strokeStyle = "#d8dce2";
  g.lineWidth = 1;
  g.font = "12px system-ui, sans-serif";
  g.fillStyle = "#5b6573";
  for (let i = 0; i <= 5; i++) {
    const y = top + (h * i) / 5;
    g.beginPath();
    g.moveTo(left, y);
    g.lineTo(left + w, y);
    g.stroke();
    g.textAlign = "right";
    g.fillText((maxLoss * (1 - i / 5)).toFixed(1), left - 6, y + 4);
    g.textAlign = "left";
    g.fillText(`${100 - 20 * i}%`, left + w + 6, y + 4);
  }
  g.textAlign = "center";
  g.fillText(`step (of ${totalSteps})`, left + w / 2, height - 8);

  const line = (points, y, colour) => {
    if (points.length === 0) return;
    g.strokeStyle = colour;
    g.lineWidth = 2;
    g.beginPath();
    points.forEach((p, i) => (i === 0 ? g.moveTo(x(p.step), y(p)) : g.lineTo(x(p.step), y(p))));
    g.stroke();
  };
  line(state.points, (p) => yLoss(p.loss), "#c62828");
  line(state.points, (p) => yAccuracy(p.accuracy), "#2f6fd6");
  g.fillStyle = "#1b8a3a";
  for (const p of state.tests) {
    g.beginPath();
    g.arc(x(p.step), yAccuracy(p.accuracy), 4, 0, 2 * Math.PI);
    g.fill();
  }
  const legend = [["#c62828", "training loss (left)"], ["#2f6fd6", "training accuracy (right)"], [
    "#1b8a3a",
    "test accuracy",
  ]];
  g.textAlign = "left";
  legend.forEach(([colour, label], i) => {
    g.fillStyle = colour;
    g.fillRect(left + i * 190, 4, 12, 12);
    g.fillStyle = "#1d232b";
    g.fillText(label, left + 17 + i * 190, 14);
  });
}

// ---- saving and predicting -------------------------------------------------------------------------------

function save() {
  const bytes = state.api.encodeSafetensors(state.model.stateDict(), { metadata: { format: "pt" } });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
  link.download = `${state.modelName}.safetensors`;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

async function predict(file) {
  const scores = $("scores");
  if (!state.model) return;
  try {
    const bitmap = await createImageBitmap(file);
    // The centre square, scaled to 32x32, as CIFAR's images are.
    const side = Math.min(bitmap.width, bitmap.height);
    const preview = $("preview");
    const g = preview.getContext("2d", { willReadFrequently: true });
    g.imageSmoothingQuality = "high";
    g.drawImage(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side, 0, 0, 32, 32);
    const { data } = g.getImageData(0, 0, 32, 32);
    const stats = state.data?.train ?? state.api.CIFAR_LAYOUTS.cifar10;
    const mean = stats.mean ?? state.api.CIFAR_LAYOUTS.cifar10.mean;
    const std = stats.std ?? state.api.CIFAR_LAYOUTS.cifar10.std;
    const input = new Float32Array(3 * 32 * 32);
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < 32 * 32; i++) input[c * 1024 + i] = (data[i * 4 + c] / 255 - mean[c]) / std[c];
    }
    state.inference ??= state.training
      ? await state.training.inference(1)
      : await state.api.Inference.compile(state.gpu, state.model, { batchSize: 1, inputShape: [3, 32, 32] });
    const logits = await state.inference.run(input);
    const top = Math.max(...logits);
    const exp = Array.from(logits, (v) => Math.exp(v - top));
    const sum = exp.reduce((a, b) => a + b, 0);
    const classes = state.data?.classes ?? CLASSES_FALLBACK;
    const ranked = exp.map((e, i) => ({ name: classes[i] ?? `class ${i}`, p: e / sum }))
      .sort((a, b) => b.p - a.p).slice(0, 5);
    scores.innerHTML = "";
    for (const { name, p } of ranked) {
      const row = document.createElement("div");
      row.textContent = `${name}: ${(100 * p).toFixed(1)}%`;
      const bar = document.createElement("span");
      bar.className = "bar";
      bar.style.width = `${Math.round(160 * p)}px`;
      row.append(bar);
      scores.append(row);
    }
  } catch (error) {
    scores.textContent = fail("prediction", error).message;
  }
}

// ---- wiring ----------------------------------------------------------------------------------------------

$("random-init").addEventListener("click", randomInit);
$("weights-file").addEventListener("change", (e) => e.target.files[0] && loadWeightsFile(e.target.files[0]));
$("weights-fetch").addEventListener("click", fetchWeights);
$("cifar-files").addEventListener("change", (e) => pickCifar([...e.target.files]));
$("synthetic").addEventListener("click", useSynthetic);
$("train").addEventListener("click", train);
$("stop").addEventListener("click", () => state.stopping = true);
$("save").addEventListener("click", save);
$("image-file").addEventListener("change", (e) => e.target.files[0] && predict(e.target.files[0]));
const drop = $("drop");
drop.addEventListener("dragover", (e) => {
  e.preventDefault();
  drop.classList.add("over");
});
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  const file = [...e.dataTransfer.files].find((f) => f.type.startsWith("image/"));
  if (file) predict(file);
});
// Images dropped anywhere on the page count too, instead of the browser opening them.
document.addEventListener("dragover", (e) => e.preventDefault());
document.addEventListener("drop", (e) => {
  if (e.target.closest?.("#drop")) return;
  e.preventDefault();
  const file = [...e.dataTransfer.files].find((f) => f.type.startsWith("image/"));
  if (file) predict(file);
});
drawChart(1);
start();
