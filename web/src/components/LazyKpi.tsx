// The dashboards, scorecards and what-if screens load on first use: the dynamic import
// keeps them (and, through LazyChart, ECharts) out of the workspace's first-load JavaScript.
import { useEffect, useState } from 'preact/hooks';
import { ErrorBox, Loading } from './common';

type KpiModule = typeof import('../pages/kpi/Kpi');

let cached: KpiModule | null = null;

export function LazyKpi(props: { view: 'dashboards' | 'scorecards' | 'evaluation'; id?: string }) {
  const [mod, setMod] = useState<KpiModule | null>(cached);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (mod) return;
    import('../pages/kpi/Kpi')
      .then((m) => {
        cached = m;
        setMod(() => m);
      })
      .catch((e) => setError(e));
  }, []);
  if (error) return <ErrorBox error={error} />;
  if (!mod) return <Loading />;
  return <mod.Kpi view={props.view} id={props.id} />;
}
