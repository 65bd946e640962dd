import { describe, expect, it } from 'vitest';
import { lineChart, niceTicks } from './svg.js';

describe('lineChart', () => {
  it('draws one path per line series, markers for point series, and escapes labels', () => {
    const svg = lineChart({
      title: 'reward <held-out>',
      xLabel: 'step',
      yLabel: 'reward',
      series: [
        {
          name: 'seed 0',
          points: [
            [1, 0.1],
            [2, 0.2],
            [3, 0.25],
          ],
        },
        {
          name: 'fit',
          points: [
            [1, 0.1],
            [3, 0.3],
          ],
          style: 'dashed',
        },
        {
          name: 'eval',
          points: [
            [1, 0.1],
            [2, 0.15],
          ],
          style: 'points',
        },
      ],
    });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<path /g)?.length).toBe(2);
    // Two markers plus the point series' legend swatch.
    expect(svg.match(/<circle /g)?.length).toBe(3);
    expect(svg).toContain('stroke-dasharray');
    expect(svg).toContain('reward &lt;held-out&gt;');
  });

  it('skips non-finite points and survives empty series', () => {
    const svg = lineChart({
      title: 't',
      xLabel: 'x',
      yLabel: 'y',
      series: [{ name: 'a', points: [[1, Number.NaN]] }],
    });
    expect(svg).not.toContain('NaN');
  });

  it('places log-x ticks at powers of ten', () => {
    const svg = lineChart({
      title: 't',
      xLabel: 'tokens',
      yLabel: 'y',
      logX: true,
      series: [
        {
          name: 'a',
          points: [
            [10, 1],
            [1000, 2],
          ],
        },
      ],
    });
    expect(svg).toContain('>100<');
  });
});

describe('niceTicks', () => {
  it('covers the range with round steps', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 23)).toEqual([0, 5, 10, 15, 20]);
  });
});
