// A chart whose library (ECharts) loads only when the chart is first shown: the dynamic
// import keeps ECharts out of the workspace's first-load JavaScript.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { BarSpec, ChartSpec } from '../charts';
import { t } from '../i18n';

export function LazyBarChart(props: { spec: BarSpec; label: string }) {
  const el = useRef<HTMLDivElement>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let dispose: (() => void) | undefined;
    let cancelled = false;
    import('../charts')
      .then((m) => {
        if (!cancelled && el.current) dispose = m.renderBar(el.current, props.spec);
      })
      .catch(() => setFailed(true));
    return () => {
      cancelled = true;
      dispose?.();
    };
  }, [JSON.stringify(props.spec)]);
  if (failed) return <p class="muted">{t('common.offline')}</p>;
  return <div ref={el} class="chart" role="img" aria-label={props.label} />;
}

/** A dashboard chart (bars or lines, several series); onClick gets (series, category). */
export function LazyChart(props: { spec: ChartSpec; label: string; id?: string; onClick?: (series: number, index: number) => void }) {
  const el = useRef<HTMLDivElement>(null);
  const click = useRef(props.onClick);
  click.current = props.onClick;
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let dispose: (() => void) | undefined;
    let cancelled = false;
    import('../charts')
      .then((m) => {
        if (!cancelled && el.current) dispose = m.renderChart(el.current, props.spec, (s, i) => click.current?.(s, i));
      })
      .catch(() => setFailed(true));
    return () => {
      cancelled = true;
      dispose?.();
    };
  }, [JSON.stringify(props.spec)]);
  if (failed) return <p class="muted">{t('common.offline')}</p>;
  return <div ref={el} id={props.id} class="chart chart-lg" role="img" aria-label={props.label} />;
}
