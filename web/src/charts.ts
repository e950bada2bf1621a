// ECharts, reduced to what the UI draws (bar charts), loaded on demand by LazyChart.
// Imported only through import('./charts') so it becomes its own chunk.
import { BarChart } from 'echarts/charts';
import { GridComponent, TooltipComponent } from 'echarts/components';
import { init, use } from 'echarts/core';
import { SVGRenderer } from 'echarts/renderers';

use([BarChart, GridComponent, TooltipComponent, SVGRenderer]);

export interface BarSpec {
  categories: string[];
  values: number[];
}

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
