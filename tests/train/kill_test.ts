/**
 * Crash safety: `cli.ts train` killed with SIGKILL at 20 seeded moments, many of them while it writes a
 * checkpoint (every epoch of this run saves one). After each kill the run folder must recover to a
 * loadable checkpoint whose files belong together, `--resume` must continue it, temporary files must not
 * pile up, and the finished run must equal one that was never killed, file for file.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadSafetensors } from "../../src/io/safetensors.ts";
import { checkpointPaths, loadTrainingState, recoverRunFolder } from "../../src/train/checkpoint.ts";
import { cifarFixture, writeFolder } from "../data/_cifar_fixture.ts";
import { generator } from "../fuzz/_mutate.ts";
import { metricsOf, tensorsOf } from "./_runs.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const KILLS = 20;
const EPOCHS = 30;

function train(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "cli.ts", "train", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** What the run printed, once it has ended. */
async function outputOf(child: Deno.ChildProcess): Promise<string> {
  const { stdout, stderr } = await child.output();
  return new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
}

/**
 * The run's output, read as it comes: `started` resolves when it first reports an epoch (its start-up is
 * over), `log` when it has ended.
 */
function watch(child: Deno.ChildProcess): { started: Promise<void>; log: Promise<string> } {
  let reportStart = () => {};
  const started = new Promise<void>((resolve) => reportStart = resolve);
  const read = async (stream: ReadableStream<Uint8Array>) => {
    let text = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      if (/epoch \d+\//.test(text)) reportStart();
    }
    return text;
  };
  const log = Promise.all([read(child.stdout), read(child.stderr), child.status]).then(([out, err]) => {
    reportStart();
    return out + err;
  });
  return { started, log };
}

/** Fails with the first differing value (a deep-equality diff of whole tensors would be enormous). */
async function assertSameTensors(actual: string, expected: string): Promise<void> {
  const [a, b] = [await tensorsOf(actual), await tensorsOf(expected)];
  assert.deepEqual([...a.keys()], [...b.keys()], actual);
  for (const [name, values] of a) {
    const other = b.get(name)!;
    const i = values.findIndex((v, i) => !Object.is(v, other[i]));
    assert.ok(
      i < 0 && values.length === other.length,
      `${actual}: ${name}[${i}] ${values[i]} vs ${other[i]}`,
    );
  }
}

Deno.test(`train killed with SIGKILL ${KILLS} times always resumes, and ends as an unkilled run`, async () => {
  const dir = await Deno.makeTempDir({ prefix: "kill_test_" });
  const data = join(dir, "cifar-10-batches-bin");
  // 20 training images in batches of 8: two steps, an evaluation and a checkpoint per epoch.
  await writeFolder(data, cifarFixture("cifar10", { trainPerFile: 4, test: 8 }).files);
  const recipe = [
    "--data",
    data,
    "--epochs",
    String(EPOCHS),
    "--batch-size",
    "8",
    "--no-tune",
    "--seed",
    "3",
  ];
  const whole = join(dir, "whole"), killed = join(dir, "killed");
  const started = performance.now();
  const unkilled = train([...recipe, "--out", whole]);
  const watched = watch(unkilled);
  await watched.started;
  const startMs = performance.now() - started;
  const wholeLog = await watched.log;
  const epochMs = (performance.now() - started - startMs) / EPOCHS;
  assert.match(wholeLog, new RegExp(`finished ${EPOCHS} epochs`), wholeLog);

  const random = generator(20261202);
  let resumed = 0;
  for (let kill = 0; kill < KILLS; kill++) {
    const saved = await Deno.stat(checkpointPaths(killed, "last").state).then(() => true, () => false);
    const child = train(saved ? ["--resume", killed] : [...recipe, "--out", killed]);
    if (saved) resumed++;
    // A quarter of the kills land in start-up; the others once the run reports an epoch, within one epoch
    // (two steps, an evaluation and a checkpoint, as timed on the unkilled run): in steps, evaluations and
    // checkpoint writes. Timed from each run's own start, and with 30 epochs to go through, the 20 kills
    // fit even when the machine is less busy than during the unkilled run.
    const output = watch(child);
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    if (random() < 0.25) {
      await sleep(random() * startMs);
    } else {
      await output.started;
      await sleep(random() * epochMs);
    }
    try {
      child.kill("SIGKILL");
    } catch {
      // It had already finished.
    }
    await output.log;
    const { code } = await child.status;
    if (code === 0) break;
    await recoverRunFolder(killed);
    if (!await Deno.stat(checkpointPaths(killed, "last").state).then(() => true, () => false)) continue;
    // The recovered checkpoint's files belong together.
    const state = await loadTrainingState(killed);
    const paths = checkpointPaths(killed, "last");
    for (const file of [paths.weights, paths.optimizer]) {
      assert.equal((await loadSafetensors(file)).metadata.step, String(state.step), `kill ${kill}: ${file}`);
    }
    const leftovers = [...Deno.readDirSync(killed)].filter((e) => /\.part$|\.commit\.json$/.test(e.name));
    assert.deepEqual(leftovers, [], `kill ${kill}: temporary files left after recovery`);
  }
  assert.ok(resumed >= KILLS / 2, `only ${resumed} of the ${KILLS} runs resumed a checkpoint`);

  const finish = train(["--resume", killed]);
  const log = await outputOf(finish);
  assert.match(log, new RegExp(`finished ${EPOCHS} epochs`), log);
  for (const file of ["last.safetensors", "last.optimizer.safetensors", "best.safetensors"]) {
    await assertSameTensors(join(killed, file), join(whole, file));
  }
  assert.deepEqual(
    await metricsOf(join(killed, "metrics.jsonl")),
    await metricsOf(join(whole, "metrics.jsonl")),
  );
  assert.deepEqual(
    [...Deno.readDirSync(killed)].filter((e) => e.name.endsWith(".part")),
    [],
    "no temporary files pile up",
  );
  await Deno.remove(dir, { recursive: true });
});
