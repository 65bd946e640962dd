/** Minimal dependency-free SVG line charts for run reports. */
export interface Series {
  name: string;
  points: [number, number][];
  /** `line` (default), `dashed`, or `points` (markers only). */
  style?: 'line' | 'dashed' | 'points';
  color?: string;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  width?: number;
  height?: number;
  /** Logarithmic x axis (all x must be positive). */
  logX?: boolean;
}

const palette = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** "Nice" tick values covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((candidate) => candidate >= raw) ?? raw;
  const ticks: number[] = [];
  for (let value = Math.ceil(min / step) * step; value <= max + step * 1e-9; value += step) {
    ticks.push(Number(value.toPrecision(12)));
  }
  return ticks;
}

function formatTick(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e5 || abs < 1e-3) return value.toExponential(1);
  return String(Number(value.toPrecision(4)));
}

export function lineChart(options: ChartOptions): string {
  const width = options.width ?? 640;
  const height = options.height ?? 360;
  // The legend runs in rows between the title and the plot, so it never hides data.
  const legendItems = options.series.map((series) => ({ series, width: 24 + series.name.length * 6.2 }));
  const legendRows: (typeof legendItems)[] = [[]];
  let rowWidth = 0;
  for (const item of legendItems) {
    if (rowWidth + item.width > width - 80 && legendRows[legendRows.length - 1]!.length) {
      legendRows.push([]);
      rowWidth = 0;
    }
    legendRows[legendRows.length - 1]!.push(item);
    rowWidth += item.width + 12;
  }
  const margin = { left: 64, right: 16, top: 34 + legendRows.length * 15, bottom: 48 };
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const all = options.series
    .flatMap((series) => series.points)
    .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const transformX = (x: number) => (options.logX ? Math.log10(x) : x);
  const xs = all.map(([x]) => transformX(x));
  const ys = all.map(([, y]) => y);
  let [xMin, xMax] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  let [yMin, yMax] = ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  if (xMax === xMin) [xMin, xMax] = [xMin - 1, xMax + 1];
  if (yMax === yMin) [yMin, yMax] = [yMin - 0.5, yMax + 0.5];
  const pad = (yMax - yMin) * 0.05;
  yMin -= pad;
  yMax += pad;
  const sx = (x: number) => margin.left + ((transformX(x) - xMin) / (xMax - xMin)) * plotWidth;
  const sy = (y: number) => margin.top + (1 - (y - yMin) / (yMax - yMin)) * plotHeight;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(options.title)}</text>`,
  ];
  for (const tick of niceTicks(yMin, yMax)) {
    const y = sy(tick);
    parts.push(
      `<line x1="${margin.left}" x2="${width - margin.right}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`,
      `<text x="${margin.left - 6}" y="${y + 4}" text-anchor="end">${formatTick(tick)}</text>`,
    );
  }
  const xTicks = options.logX
    ? niceTicks(Math.floor(xMin), Math.ceil(xMax)).filter(
        (tick) => Number.isInteger(tick) && tick >= xMin && tick <= xMax,
      )
    : niceTicks(xMin, xMax);
  for (const tick of xTicks) {
    const value = options.logX ? 10 ** tick : tick;
    const x = sx(value);
    parts.push(
      `<line x1="${x}" x2="${x}" y1="${margin.top}" y2="${height - margin.bottom}" stroke="#f0f0f0"/>`,
      `<text x="${x}" y="${height - margin.bottom + 16}" text-anchor="middle">${formatTick(value)}</text>`,
    );
  }
  parts.push(
    `<rect x="${margin.left}" y="${margin.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#333"/>`,
    `<text x="${margin.left + plotWidth / 2}" y="${height - 10}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
    `<text transform="translate(16 ${margin.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`,
  );
  options.series.forEach((series, index) => {
    const color = series.color ?? palette[index % palette.length]!;
    const points = series.points.filter(
      ([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!options.logX || x > 0),
    );
    if (series.style === 'points') {
      for (const [x, y] of points) parts.push(`<circle cx="${sx(x)}" cy="${sy(y)}" r="3" fill="${color}"/>`);
    } else if (points.length) {
      const path = points
        .map(([x, y], i) => `${i ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`)
        .join('');
      const dash = series.style === 'dashed' ? ' stroke-dasharray="6 4"' : '';
      parts.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="1.8"${dash}/>`);
    }
  });
  legendRows.forEach((row, rowIndex) => {
    let x = margin.left;
    const y = 34 + rowIndex * 15;
    for (const { series, width: itemWidth } of row) {
      const index = options.series.indexOf(series);
      const color = series.color ?? palette[index % palette.length]!;
      const swatch =
        series.style === 'points'
          ? `<circle cx="${x + 6}" cy="${y - 4}" r="3" fill="${color}"/>`
          : `<rect x="${x}" y="${y - 5}" width="12" height="3" fill="${color}"/>`;
      parts.push(swatch, `<text x="${x + 18}" y="${y}">${escapeXml(series.name)}</text>`);
      x += itemWidth + 12;
    }
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
