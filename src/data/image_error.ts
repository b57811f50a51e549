/**
 * The error every image decoding failure is, so that a loader can tell a missing file from a corrupt one
 * without parsing messages.
 *
 * @module
 */

/**
 * What is wrong with an image file:
 * - `"unreadable"`: the file could not be read (missing, a folder, no permission);
 * - `"empty"`: it holds 0 bytes;
 * - `"not-an-image"`: its first bytes are no image format's signature;
 * - `"unsupported"`: an image format that is not decoded here (WebP, GIF, BMP, TIFF, PPM/PGM);
 * - `"corrupt"`: a PNG, JPEG or WebP that is corrupt or truncated;
 * - `"too-large"`: its header declares more pixels than the megapixel limit allows.
 */
export type ImageProblemKind =
  | "unreadable"
  | "empty"
  | "not-an-image"
  | "unsupported"
  | "corrupt"
  | "too-large";

/** Where an {@linkcode ImageDecodeError} comes from. */
export interface ImageDecodeErrorInit {
  /** The file (or the name the caller gave the bytes). */
  source: string;
  /** What is wrong. */
  kind: ImageProblemKind;
  /** The underlying error, e.g. the decoder's or the file system's. */
  cause?: unknown;
}

/**
 * An image that cannot be decoded; the message names the file and what was expected.
 *
 * @example
 * ```ts
 * import { decodeImage, ImageDecodeError } from "@denogpu/resnet/data";
 * try {
 *   decodeImage(new TextEncoder().encode("hello"), "notes.txt");
 * } catch (error) {
 *   if (error instanceof ImageDecodeError) console.log(error.kind, error.source); // not-an-image notes.txt
 * }
 * ```
 */
export class ImageDecodeError extends Error {
  /** What is wrong. */
  readonly kind: ImageProblemKind;
  /** The file (or the name the caller gave the bytes). */
  readonly source: string;

  /**
   * Makes the error; `message` should start with the file's name.
   *
   * @example
   * ```ts
   * import { ImageDecodeError } from "@denogpu/resnet/data";
   * const error = new ImageDecodeError("a.png: empty file", { source: "a.png", kind: "empty" });
   * ```
   */
  constructor(message: string, init: ImageDecodeErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "ImageDecodeError";
    this.kind = init.kind;
    this.source = init.source;
  }
}
