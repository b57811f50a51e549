/**
 * The report of a training run: one self-contained HTML file (inline SVG, no scripts, no network) with the
 * loss and accuracy curves, the learning rate, the latest test confusion matrix and per-class accuracy.
 * Rewritten atomically after every epoch, so a browser can simply reload it.
 *
 * @module
 */

import { writeFileAtomicAsync } from "../io/atomic.ts";
import type { EpochMetrics } from "./checkpoint.ts";
import type { Evaluation } from "./evaluate.ts";

/** What {@linkcode renderReport} draws. */
export interface ReportData {
  /** The heading, e.g. `"resnet20 on cifar10"`. */
  title: string;
  /** Metrics of the finished epochs. */
  history: readonly EpochMetrics[];
  /** The latest test evaluation (for the confusion matrix and per-class accuracy). */
  evaluation?: Evaluation;
  /** Settings shown in a table (the run's config). */
  settings?: Record<string, unknown>;
  /** Total epochs planned. */
  epochs?: number;
}

interface Series {
  name: string;
  color: string;
  points: Array<[number, number]>;
}

const escape = (text: string) =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** Round, readable tick values covering [min, max]. */
function ticks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) {
    out.push(Number(v.toPrecision(12)));
  }
  return out;
}

/** A line chart of `series` over epochs as an inline SVG element. */
function lineChart(
  title: string,
  series: Series[],
  options: { xMax: number; yMin?: number; yMax?: number; percent?: boolean },
): string {
  const width = 520, height = 310, left = 56, right = 16, top = 44, bottom = 40;
  const values = series.flatMap((s) => s.points.map(([, y]) => y)).filter(Number.isFinite);
  const yMin = options.yMin ?? Math.min(0, ...values);
  const yMax = options.yMax ?? (values.length ? Math.max(...values) * 1.05 || 1 : 1);
  const xMax = Math.max(1, options.xMax);
  const x = (v: number) => left + (v / xMax) * (width - left - right);
  const y = (v: number) => top + (1 - (v - yMin) / (yMax - yMin || 1)) * (height - top - bottom);
  const format = (v: number) => options.percent ? `${Math.round(v * 100)}%` : String(v);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${
      escape(title)
    }">`,
    `<text x="${width / 2}" y="18" text-anchor="middle" class="title">${escape(title)}</text>`,
  ];
  for (const t of ticks(yMin, yMax)) {
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${y(t)}" y2="${y(t)}" class="grid"/>`);
    parts.push(`<text x="${left - 6}" y="${y(t) + 4}" text-anchor="end">${format(t)}</text>`);
  }
  for (const t of ticks(0, xMax).filter((v) => Number.isInteger(v))) {
    parts.push(`<text x="${x(t)}" y="${height - bottom + 16}" text-anchor="middle">${t}</text>`);
  }
  parts.push(`<text x="${(left + width - right) / 2}" y="${height - 6}" text-anchor="middle">epoch</text>`);
  parts.push(
    `<rect x="${left}" y="${top}" width="${width - left - right}" height="${
      height - top - bottom
    }" class="frame"/>`,
  );
  series.forEach((s, i) => {
    const points = s.points.filter(([, v]) => Number.isFinite(v));
    if (points.length) {
      const d = points.map(([px, py], j) => `${j ? "L" : "M"}${x(px).toFixed(1)},${y(py).toFixed(1)}`).join(
        "",
      );
      parts.push(`<path d="${d}" stroke="${s.color}" class="line"/>`);
      for (const [px, py] of points) {
        parts.push(`<circle cx="${x(px).toFixed(1)}" cy="${y(py).toFixed(1)}" r="2.5" fill="${s.color}"/>`);
      }
    }
    // The legend sits between the title and the plot, where no curve can cover it.
    const lx = left + i * 120;
    parts.push(`<rect x="${lx}" y="${top - 12}" width="12" height="3" fill="${s.color}"/>`);
    parts.push(`<text x="${lx + 16}" y="${top - 7}">${escape(s.name)}</text>`);
  });
  parts.push("</svg>");
  return parts.join("");
}

/** The confusion matrix as an SVG heat map, rows the true class, columns the prediction. */
function confusionChart(evaluation: Evaluation): string {
  const { confusion, classes } = evaluation;
  const k = classes.length;
  const cell = Math.max(6, Math.min(40, Math.floor(480 / k)));
  const labelSpace = k <= 20 ? 96 : 8;
  const size = labelSpace + k * cell + 8;
  const showCounts = cell >= 28;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size} ${size + 24}" width="${size}" height="${
      size + 24
    }" role="img" aria-label="confusion matrix">`,
    `<text x="${labelSpace + (k * cell) / 2}" y="14" text-anchor="middle">predicted</text>`,
  ];
  const origin = 24;
  confusion.forEach((row, r) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    if (labelSpace > 8) {
      parts.push(
        `<text x="${labelSpace - 4}" y="${origin + labelSpace + r * cell + cell / 2 + 4}" text-anchor="end">${
          escape(classes[r])
        }</text>`,
      );
    }
    row.forEach((count, c) => {
      const share = count / total;
      const fill = r === c
        ? `rgba(34,139,34,${(0.1 + 0.9 * share).toFixed(3)})`
        : `rgba(200,40,40,${(share === 0 ? 0 : 0.1 + 0.9 * share).toFixed(3)})`;
      const cx = labelSpace + c * cell, cy = origin + labelSpace + r * cell;
      parts.push(
        `<rect x="${cx}" y="${cy}" width="${cell}" height="${cell}" fill="${fill}" class="cell"><title>${
          escape(classes[r])
        } predicted as ${escape(classes[c])}: ${count}</title></rect>`,
      );
      if (showCounts && count > 0) {
        parts.push(
          `<text x="${cx + cell / 2}" y="${
            cy + cell / 2 + 4
          }" text-anchor="middle" class="count">${count}</text>`,
        );
      }
    });
  });
  if (labelSpace > 8) {
    classes.forEach((name, c) => {
      const cx = labelSpace + c * cell + cell / 2 + 4, cy = origin + labelSpace - 4;
      parts.push(`<text x="${cx}" y="${cy}" transform="rotate(-60 ${cx} ${cy})">${escape(name)}</text>`);
    });
  }
  parts.push("</svg>");
  return parts.join("");
}

const percent = (v: number) => `${(v * 100).toFixed(2)}%`;

/** The sentence on the latest and the best epoch. */
function headline(data: ReportData): string {
  const { history } = data;
  const last = history.at(-1);
  if (!last) return "<p>No epoch has finished yet.</p>";
  const best = history.reduce((b, m) => m.testAccuracy > b.testAccuracy ? m : b);
  return `<p>Epoch ${last.epoch}${data.epochs ? ` of ${data.epochs}` : ""}: test accuracy ${
    percent(last.testAccuracy)
  } ` +
    `(top-5 ${percent(last.testTop5)}), test loss ${last.testLoss.toFixed(4)}; best ${
      percent(best.testAccuracy)
    } ` +
    `at epoch ${best.epoch}.</p>`;
}

/** The loss, accuracy and learning-rate curves. */
function charts(data: ReportData): string[] {
  const { history } = data;
  const xMax = Math.max(data.epochs ?? 0, history.length, 1);
  const series = (name: string, color: string, pick: (m: EpochMetrics) => number): Series => ({
    name,
    color,
    points: history.map((m) => [m.epoch, pick(m)]),
  });
  const averaged = history.some((m) => m.emaTestAccuracy !== undefined);
  return [
    '<div class="charts">',
    lineChart("loss", [
      series("train", "#1f77b4", (m) => m.trainLoss),
      series("test", "#d62728", (m) => m.testLoss),
      ...(averaged ? [series("test, EMA", "#9467bd", (m) => m.emaTestLoss ?? NaN)] : []),
    ], { xMax }),
    lineChart("accuracy", [
      series("train", "#1f77b4", (m) => m.trainAccuracy),
      series("test", "#d62728", (m) => m.testAccuracy),
      series("test top-5", "#ff7f0e", (m) => m.testTop5),
      ...(averaged ? [series("test, EMA", "#9467bd", (m) => m.emaTestAccuracy ?? NaN)] : []),
    ], { xMax, yMin: 0, yMax: 1, percent: true }),
    lineChart("learning rate", [series("lr", "#2ca02c", (m) => m.lr)], { xMax }),
    "</div>",
  ];
}

/** The confusion matrix and the per-class accuracy of the latest evaluation. */
function evaluationSections(evaluation: Evaluation, last: EpochMetrics | undefined): string[] {
  return [
    `<h2>Test confusion matrix${last ? ` after epoch ${last.epoch}` : ""}</h2>`,
    confusionChart(evaluation),
    "<h2>Per-class test accuracy</h2><table><tr><th>class</th><th>accuracy</th><th>samples</th></tr>",
    ...evaluation.perClass.map((c) =>
      `<tr><td>${escape(c.name)}</td><td>${percent(c.accuracy)}</td><td>${c.samples}</td></tr>`
    ),
    "</table>",
  ];
}

/** One row per finished epoch. */
function epochTable(history: readonly EpochMetrics[]): string[] {
  if (!history.length) return [];
  const averaged = history.some((m) => m.emaTestAccuracy !== undefined);
  return [
    "<h2>Epochs</h2><table><tr><th>epoch</th><th>lr</th><th>train loss</th><th>train acc</th><th>test loss</th><th>test acc</th><th>top-5</th>" +
    (averaged ? "<th>EMA test acc</th>" : "") + "<th>time</th></tr>",
    ...history.map((m) =>
      `<tr><td>${m.epoch}</td><td>${m.lr.toPrecision(3)}</td><td>${m.trainLoss.toFixed(4)}</td><td>${
        percent(m.trainAccuracy)
      }</td>` +
      `<td>${m.testLoss.toFixed(4)}</td><td>${percent(m.testAccuracy)}</td><td>${percent(m.testTop5)}</td>` +
      (averaged ? `<td>${m.emaTestAccuracy === undefined ? "" : percent(m.emaTestAccuracy)}</td>` : "") +
      `<td>${m.seconds.toFixed(1)} s</td></tr>`
    ),
    "</table>",
  ];
}

/** The run's settings, those that are set. */
function settingsTable(settings: ReportData["settings"]): string[] {
  if (!settings) return [];
  return [
    "<h2>Settings</h2><table>",
    ...Object.entries(settings).filter(([, value]) => value !== undefined).map(([key, value]) =>
      `<tr><th>${escape(key)}</th><td>${escape(String(value))}</td></tr>`
    ),
    "</table>",
  ];
}

/**
 * The report as a self-contained HTML document.
 *
 * @example
 * ```ts
 * import { renderReport } from "@denogpu/resnet/train";
 * const html = renderReport({ title: "resnet20 on cifar10", history: [] });
 * ```
 */
export function renderReport(data: ReportData): string {
  const body = [
    `<h1>${escape(data.title)}</h1>`,
    headline(data),
    ...charts(data),
    ...(data.evaluation ? evaluationSections(data.evaluation, data.history.at(-1)) : []),
    ...epochTable(data.history),
    ...settingsTable(data.settings),
  ];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(data.title)}</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 24px; color: #222; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
svg text { font: 11px system-ui, sans-serif; fill: #333; }
svg .title { font-size: 13px; font-weight: 600; }
svg .grid { stroke: #e5e5e5; }
svg .frame { fill: none; stroke: #999; }
svg .line { fill: none; stroke-width: 2; }
svg .cell { stroke: #fff; }
svg .count { font-size: 10px; }
table { border-collapse: collapse; margin: 8px 0 16px; }
td, th { padding: 2px 10px; border-bottom: 1px solid #eee; text-align: right; }
th { text-align: left; }
</style></head>
<body>
${body.join("\n")}
</body></html>
`;
}

/**
 * Renders the report and writes it to `path` atomically.
 *
 * @example
 * ```ts
 * import { writeReport } from "@denogpu/resnet/train";
 * await writeReport(await Deno.makeTempFile({ suffix: ".html" }), { title: "run", history: [] });
 * ```
 */
export async function writeReport(path: string, data: ReportData): Promise<void> {
  await writeFileAtomicAsync(path, renderReport(data));
}
