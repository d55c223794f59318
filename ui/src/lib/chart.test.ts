import { describe, expect, it } from 'vitest';
import { dayLabels, gridMax, linePoints, niceMax, shade, ticks, xAt, yAt } from './chart';

describe('chart arithmetic', () => {
  it('rounds a scale up to 1, 2 or 5 times a power of ten', () => {
    expect(niceMax(0)).toBe(1);
    expect(niceMax(1)).toBe(1);
    expect(niceMax(3)).toBe(5);
    expect(niceMax(7)).toBe(10);
    expect(niceMax(10)).toBe(10);
    expect(niceMax(11)).toBe(20);
    expect(niceMax(420)).toBe(500);
    expect(niceMax(5001)).toBe(10000);
  });

  it('ticks whole numbers from 0 up to the top of the scale', () => {
    expect(ticks(20)).toEqual([0, 5, 10, 15, 20]);
    expect(ticks(10)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(ticks(500)).toEqual([0, 100, 200, 300, 400, 500]);
    expect(ticks(2)).toEqual([0, 1, 2]);
    expect(ticks(1)).toEqual([0, 1]);
  });

  it('places points from the bottom left, a single day in the middle', () => {
    const plot = { left: 10, top: 0, width: 100, height: 50 };
    expect(xAt(plot, 0, 3)).toBe(10);
    expect(xAt(plot, 2, 3)).toBe(110);
    expect(xAt(plot, 0, 1)).toBe(60);
    expect(yAt(plot, 0, 10)).toBe(50);
    expect(yAt(plot, 10, 10)).toBe(0);
    expect(linePoints(plot, [0, 5, 10], 10)).toBe('10,50 60,25 110,0');
  });

  it('shades the busiest hour fully, an empty one not at all, and a quiet one visibly', () => {
    expect(shade(0, 10)).toBe(0);
    expect(shade(10, 10)).toBe(1);
    expect(shade(1, 1000)).toBeGreaterThan(0.1);
    expect(gridMax([[1, 2], [7, 0]])).toBe(7);
    expect(gridMax([])).toBe(0);
  });

  it('labels the first and last day and a few between', () => {
    expect(dayLabels(['a', 'b', 'c'])).toEqual([0, 1, 2]);
    const labels = dayLabels(Array.from({ length: 90 }, (_, i) => String(i)));
    expect(labels.length).toBe(6);
    expect(labels[0]).toBe(0);
    expect(labels.at(-1)).toBe(89);
  });
});
