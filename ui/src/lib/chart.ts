// The arithmetic of the Reports page's SVG charts (components/reports/*), without a DOM: scales,
// axis ticks, points of a line and the shade of a heatmap cell (docs/adr/0014-charts.md).

/** The smallest of 1, 2, 5 × 10^k that is at least `value` (1 for nothing to show). */
export function niceMax(value: number): number {
  if (!(value > 1)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

/** Tick values from 0 to `max` (a {@link niceMax}) in steps of 1, 2 or 5 × 10^k: at most six, whole numbers, the top one `max`. */
export function ticks(max: number): number[] {
  const step = niceMax(max / 5);
  const out: number[] = [];
  for (let value = 0; value <= max; value += step) out.push(value);
  return out;
}

/** A plot area inside an SVG's view box. */
export type Plot = { left: number; top: number; width: number; height: number };

/** Where the `index`-th of `count` points sits across the plot (one point: in the middle). */
export function xAt(plot: Plot, index: number, count: number): number {
  if (count <= 1) return plot.left + plot.width / 2;
  return plot.left + (plot.width * index) / (count - 1);
}

/** Where `value` sits up the plot, 0 at the bottom and `max` at the top. */
export function yAt(plot: Plot, value: number, max: number): number {
  return plot.top + plot.height - (plot.height * value) / max;
}

/** An SVG polyline's `points` for `values` in the plot. */
export function linePoints(plot: Plot, values: readonly number[], max: number): string {
  return values.map((v, i) => `${round(xAt(plot, i, values.length))},${round(yAt(plot, v, max))}`).join(' ');
}

/** How strongly a heatmap cell is shaded, 0 (none) to 1 (the busiest hour); a non-zero count always shows. */
export function shade(count: number, max: number): number {
  if (count <= 0 || max <= 0) return 0;
  return 0.12 + 0.88 * (count / max);
}

/** The largest number in a weekday × hour grid. */
export function gridMax(grid: readonly (readonly number[])[]): number {
  return grid.reduce((m, row) => row.reduce((r, v) => Math.max(r, v), m), 0);
}

/** The days of the range to label under a chart: the first, the last and a few between. */
export function dayLabels(days: readonly string[], most = 6): number[] {
  if (days.length <= most) return days.map((_, i) => i);
  const step = (days.length - 1) / (most - 1);
  return Array.from({ length: most }, (_, i) => Math.round(i * step));
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
