/**
 * Augmentations named the way the CLI's `--augment` takes them, e.g. `randomresizedcrop,flip` or
 * `crop,flip,cutout:16`, and the default for a data set: the CIFAR recipe (`crop,flip`) for images
 * already at the model's size, torchvision's ImageNet recipe (`randomresizedcrop,flip`) otherwise.
 *
 * @module
 */

import type { AugmentOptions } from "./batch_plan.ts";

/** The words of an augmentation spec. */
export const AUGMENT_WORDS: readonly string[] = ["crop", "randomresizedcrop", "flip", "cutout", "none"];

/**
 * The augmentation `spec` names, for batches of `size` x `size` images; `false` for `"none"`.
 *
 * - `crop` (or `crop:P`): `RandomCrop(size, padding=P)`, P 4 by default for images of that size and 0 for
 *   a larger working image;
 * - `randomresizedcrop`: `RandomResizedCrop(size)` with torchvision's scale (0.08, 1) and ratio (3/4, 4/3);
 * - `flip`: `RandomHorizontalFlip()`;
 * - `cutout` (or `cutout:N`): a random square of side N (`size / 2` by default) zeroed after normalising;
 * - `none`: no augmentation, the evaluation batches' pixels.
 *
 * Without a crop the batch takes the image's centre (`CenterCrop`), or the whole image resized when it
 * is smaller than `size`.
 *
 * @example
 * ```ts
 * import { parseAugment } from "@denogpu/resnet/data";
 * console.log(parseAugment("randomresizedcrop,flip", { size: 224 })); // { crop: "resized", flip: true, cutout: 0 }
 * console.log(parseAugment("crop:2,cutout", { size: 32 })); // { crop: "random", padding: 2, flip: false, cutout: 16 }
 * ```
 *
 * @throws {RangeError} When a word is unknown, repeated or combined with one it excludes, or a number is
 * not a non-negative integer; the message lists the words.
 */
export function parseAugment(spec: string, options: { size: number }): AugmentOptions | false {
  const words = spec.split(",").map((word) => word.trim()).filter((word) => word !== "");
  const fail = (why: string) =>
    new RangeError(
      `augmentation "${spec}": ${why}; expected words of ${AUGMENT_WORDS.join(", ")} (e.g. crop,flip)`,
    );
  if (words.length === 0) throw fail("no augmentation named");
  if (words.includes("none")) {
    if (words.length > 1) throw fail("none cannot be combined with others");
    return false;
  }
  const seen = new Set<string>();
  const augment: AugmentOptions = { crop: "centre", flip: false, cutout: 0 };
  for (const word of words) {
    const [name, value, ...rest] = word.split(":");
    if (!AUGMENT_WORDS.includes(name) || rest.length > 0) throw fail(`unknown word "${word}"`);
    if (seen.has(name)) throw fail(`${name} given twice`);
    seen.add(name);
    const number = value === undefined ? undefined : /^\d+$/.test(value) ? Number(value) : NaN;
    if (Number.isNaN(number)) throw fail(`${name}'s value must be a non-negative integer, got "${value}"`);
    if (number !== undefined && !["crop", "cutout"].includes(name)) throw fail(`${name} takes no value`);
    if (name === "crop") {
      augment.crop = "random";
      if (number !== undefined) augment.padding = number;
    } else if (name === "randomresizedcrop") {
      augment.crop = "resized";
    } else if (name === "flip") {
      augment.flip = true;
    } else if (name === "cutout") {
      augment.cutout = number ?? Math.floor(options.size / 2);
    }
  }
  if (seen.has("crop") && seen.has("randomresizedcrop")) {
    throw fail("crop and randomresizedcrop exclude each other");
  }
  return augment;
}

/**
 * The default augmentation spec for a data set of `imageSize`-pixel images batched at `size`: the CIFAR
 * recipe when they are equal, torchvision's ImageNet recipe when the images must be resized.
 *
 * @example
 * ```ts
 * import { defaultAugment } from "@denogpu/resnet/data";
 * console.log(defaultAugment({ imageSize: 32, size: 32 }), defaultAugment({ imageSize: 256, size: 224 }));
 * // crop,flip randomresizedcrop,flip
 * ```
 */
export function defaultAugment(options: { imageSize: number; size: number }): string {
  return options.imageSize === options.size ? "crop,flip" : "randomresizedcrop,flip";
}
