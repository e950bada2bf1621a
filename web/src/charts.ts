// ECharts, reduced to what the UI draws (bar and line charts), loaded on demand by
// LazyChart. Imported only through import('./charts') so it becomes its own chunk.
import { BarChart, LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import { init, use } from 'echarts/core';
import { SVGRenderer } from 'echarts/renderers';

use([BarChart, LineChart, GridComponent, LegendComponent, TooltipComponent, SVGRenderer]);

export interface BarSpec {
  categories: string[];
  values: number[];
}

/** A chart of one or more series over the same categories (dashboards). */
export interface ChartSpec {
  kind: 'bar' | 'line';
  categories: string[];
  series: { name: string; values: (number | null)[] }[];
  /** Values are ratios 0–1 shown as percentages. */
  percent?: boolean;
  /** Unit appended to values on the axis and in the tooltip (e.g. "min"). */
  unit?: string;
}

const COLOURS = ['#1f6f5c', '#c2410c', '#2563eb', '#7c3aed', '#b45309', '#0f766e', '#be123c', '#4b5563'];

/** Draws a bar chart into el; returns a function that disposes of it. */
export function renderBar(el: HTMLElement, spec: BarSpec): () => void {
  const chart = init(el, undefined, { renderer: 'svg' });
  chart.setOption({
    animation: false,
    grid: { left: 40, right: 16, top: 16, bottom: 32 },
    tooltip: { trigger: 'axis' },
    xAxis: { type: 'category', data: spec.categories },
    yAxis: { type: 'value', minInterval: 1 },
    series: [{ type: 'bar', data: spec.values, itemStyle: { color: '#1f6f5c' } }],
  });
  const ro = new ResizeObserver(() => chart.resize());
  ro.observe(el);
  return () => {
    ro.disconnect();
    chart.dispose();
  };
}

/**
 * Draws spec into el; a click on a bar or point calls onClick(series index, category
 * index). Returns a function that disposes of the chart.
 */
export function renderChart(el: HTMLElement, spec: ChartSpec, onClick?: (series: number, index: number) => void): () => void {
  const chart = init(el, undefined, { renderer: 'svg' });
  const fmt = (v: unknown) =>
    typeof v !== 'number' ? '—' : spec.percent ? `${(v * 100).toFixed(1)}%` : `${Math.round(v * 10) / 10}${spec.unit ? ` ${spec.unit}` : ''}`;
  chart.setOption({
    animation: false,
    color: COLOURS,
    grid: { left: 56, right: 16, top: spec.series.length > 1 ? 36 : 16, bottom: 32 },
    legend: spec.series.length > 1 ? { top: 0, type: 'scroll' } : undefined,
    tooltip: { trigger: spec.kind === 'line' ? 'axis' : 'item', valueFormatter: fmt },
    xAxis: { type: 'category', data: spec.categories },
    yAxis: {
      type: 'value',
      max: spec.percent ? 1 : undefined,
      axisLabel: { formatter: (v: number) => (spec.percent ? `${Math.round(v * 100)}%` : `${v}`) },
    },
    series: spec.series.map((s) => ({
      type: spec.kind,
      name: s.name,
      data: s.values,
      connectNulls: false,
      symbolSize: 8,
      triggerLineEvent: true,
    })),
  });
  if (onClick)
    chart.on('click', (p: { seriesIndex?: number; dataIndex?: number }) => {
      if (typeof p.dataIndex === 'number') onClick(p.seriesIndex ?? 0, p.dataIndex);
    });
  const ro = new ResizeObserver(() => chart.resize());
  ro.observe(el);
  return () => {
    ro.disconnect();
    chart.dispose();
  };
}
