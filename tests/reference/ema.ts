/**
 * CPU reference of one exponential-moving-average update, as torch's `lerp` computes it in float32
 * (`get_ema_multi_avg_fn`): the first update copies.
 */
export function emaUpdateReference(
  averaged: Float32Array,
  current: ArrayLike<number>,
  decay: number,
  first: boolean,
): void {
  const f = Math.fround;
  const weight = first ? 1 : f(1 - decay);
  for (let i = 0; i < averaged.length; i++) {
    const from = averaged[i], to = current[i];
    averaged[i] = weight < 0.5 ? f(from + f(weight * f(to - from))) : f(to - f(f(to - from) * f(1 - weight)));
  }
}
