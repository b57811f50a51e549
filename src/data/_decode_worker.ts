/**
 * The worker of `decodeEntriesParallel` (decode_pool.ts): decodes one file per task, crops it as
 * `storedCrop` does and posts back its CHW planes and size, so that the decoded original never leaves
 * the worker.
 *
 * @module
 */

import { chwPlanes } from "./rgb_image.ts";
import { ImageDecodeError, type ImageProblemKind } from "./image_error.ts";
import { type DecodeOptions, readImage } from "./images.ts";
import { type StoredCrop, storedCrop } from "./transforms.ts";

/** One file to decode; `index` comes back with the reply, which may overtake other replies. */
export interface DecodeTask {
  /** Position of the entry in the caller's list. */
  index: number;
  /** The file. */
  path: string;
  /** As `readImage` takes them. */
  decode: DecodeOptions;
  /** What is kept of the image. */
  crop: StoredCrop;
}

/**
 * What became of a task: the crop's CHW planes (their buffer transferred, not copied), the problem of a
 * bad file, or any other error, which is a bug and must reach the caller rather than be swallowed here.
 */
export type DecodeReply =
  | { index: number; chw: ArrayBuffer; width: number; height: number }
  | { index: number; problem: { kind: ImageProblemKind; message: string } }
  | { index: number; error: { name: string; message: string; stack?: string } };

/** The part of the worker's global scope used here; the window's types are the ones in scope. */
interface WorkerScope {
  onmessage: ((event: MessageEvent<DecodeTask>) => void) | null;
  postMessage(message: DecodeReply, transfer?: ArrayBuffer[]): void;
}

async function run(task: DecodeTask): Promise<{ reply: DecodeReply; transfer: ArrayBuffer[] }> {
  const { index } = task;
  try {
    const image = storedCrop(await readImage(task.path, task.decode), task.crop);
    const chw = chwPlanes(image);
    const { width, height } = image;
    return {
      reply: { index, chw: chw.buffer as ArrayBuffer, width, height },
      transfer: [chw.buffer as ArrayBuffer],
    };
  } catch (error) {
    if (error instanceof ImageDecodeError) {
      return { reply: { index, problem: { kind: error.kind, message: error.message } }, transfer: [] };
    }
    const { name = "Error", message = String(error), stack } = error instanceof Error ? error : {};
    return { reply: { index, error: { name, message, stack } }, transfer: [] };
  }
}

const scope = globalThis as unknown as WorkerScope;
scope.onmessage = (event) => {
  run(event.data).then(({ reply, transfer }) => scope.postMessage(reply, transfer));
};
