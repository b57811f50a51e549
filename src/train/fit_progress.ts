/**
 * Progress within an epoch: a `cli-progress` bar (step, loss, accuracy, images/s, ETA) when stderr is a
 * terminal, else a plain line every few seconds, for logs and pipes.
 *
 * @module
 */

import process from "node:process";
import cliProgress from "cli-progress";

/** Where an epoch stands, as the progress display shows it. */
export interface EpochStatus {
  /** Batches done in this epoch. */
  batch: number;
  /** Mean training loss so far this epoch (NaN before the first read). */
  loss: number;
  /** Training accuracy so far this epoch, in [0, 1] (NaN before the first read). */
  accuracy: number;
  /** Training images per second this epoch. */
  imagesPerSecond: number;
}

/** Shows the progress of one epoch at a time. */
export interface EpochProgress {
  /** An epoch (1-based) of `batches` batches begins, `done` of them already run (a resumed epoch). */
  start(epoch: number, epochs: number, batches: number, done: number): void;
  /** New statistics. */
  update(status: EpochStatus): void;
  /** The epoch ended (or the run stopped). */
  stop(): void;
}

/** The subset of `cli-progress`'s `SingleBar` used here (the package ships no types). */
interface SingleBar {
  start(total: number, value: number, payload: Record<string, string>): void;
  update(value: number, payload: Record<string, string>): void;
  stop(): void;
}

const PLAIN_INTERVAL_MS = 10_000;

/** The bar's fields; loss and accuracy are NaN until the first statistics of the epoch are read. */
function payload(status: EpochStatus): Record<string, string> {
  const known = (v: number, text: string) => Number.isFinite(v) ? text : "-";
  return {
    loss: known(status.loss, status.loss.toFixed(4)),
    accuracy: known(status.accuracy, `${(status.accuracy * 100).toFixed(1)}%`),
    speed: status.imagesPerSecond.toFixed(0),
  };
}

/** A bar on stderr, redrawn in place. */
export function barProgress(): EpochProgress {
  let bar: SingleBar | undefined;
  return {
    start(epoch, epochs, batches, done) {
      bar = new cliProgress.SingleBar({
        format:
          `epoch ${epoch}/${epochs} [{bar}] {value}/{total} | loss {loss} | acc {accuracy} | {speed} img/s | ETA {eta_formatted}`,
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 50,
      }, cliProgress.Presets.shades_classic) as SingleBar;
      bar.start(batches, done, { loss: "-", accuracy: "-", speed: "-" });
    },
    update(status) {
      bar?.update(status.batch, payload(status));
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}

/** Plain lines through `write`, at most one every 10 s. */
export function plainProgress(write: (line: string) => void): EpochProgress {
  let header = "";
  let batches = 0;
  let last = 0;
  let started = 0;
  let first = 0;
  return {
    start(epoch, epochs, total, done) {
      header = `epoch ${epoch}/${epochs}`;
      batches = total;
      first = done;
      started = last = performance.now();
    },
    update(status) {
      const now = performance.now();
      if (now - last < PLAIN_INTERVAL_MS || status.batch >= batches) return;
      last = now;
      const rate = (status.batch - first) / Math.max((now - started) / 1000, 1e-3);
      const eta = rate > 0 ? Math.ceil((batches - status.batch) / rate) : 0;
      const p = payload(status);
      write(
        `${header}: step ${status.batch}/${batches}, loss ${p.loss}, acc ${p.accuracy}, ${p.speed} img/s, ETA ${eta} s`,
      );
    },
    stop() {},
  };
}

/** Shows nothing. */
export function noProgress(): EpochProgress {
  return { start() {}, update() {}, stop() {} };
}
