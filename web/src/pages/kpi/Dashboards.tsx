// Dashboards (supervisors and admins; agents see their own figures): compliance trend per
// standard (one line per step, by day or ISO week), p90 response per step, volume by
// channel and a per-agent comparison, each with its own period picker. A click on a bar
// or point opens the measurements behind it (the drill-down links the indicators API
// returns with each row). GET /api/v1/indicators.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../../api';
import { ErrorBox, Loading } from '../../components/common';
import { LazyChart } from '../../components/LazyChart';
import { t, type MessageKey } from '../../i18n';
import { initialPeriod, Measurements, PeriodPicker, periodString, type PeriodState } from './shared';
import type { ChartSpec } from '../../charts';

interface Row {
  key: string;
  from: string;
  to: string;
  value: number | null;
  count: number;
  has_data: boolean;
  measurements?: string | null;
}
interface Answer {
  rows: Row[];
}

async function indicator(q: Record<string, string>): Promise<Row[]> {
  const r = await api<Answer>('GET', `/api/v1/indicators?${new URLSearchParams(q)}`);
  return r.data.rows;
}

const MAX_SERIES = 6;

/** One chart card: title, period picker, the chart, the drill-down under it. */
function ChartCard(props: {
  id: string;
  title: MessageKey;
  hint?: MessageKey;
  load: (period: string) => Promise<{ spec: ChartSpec; links: (string | null | undefined)[][]; names: string[][] }>;
  extra?: preact.ComponentChildren;
  deps?: unknown[];
}) {
  const [period, setPeriod] = useState<PeriodState>(initialPeriod());
  const [data, setData] = useState<Awaited<ReturnType<typeof props.load>> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [drill, setDrill] = useState<{ url: string; title: string } | null>(null);
  const [noLink, setNoLink] = useState(false);
  const p = periodString(period);
  useEffect(() => {
    if (!p) return;
    let live = true;
    setData(null);
    setError(null);
    setDrill(null);
    props
      .load(p)
      .then((d) => live && setData(d))
      .catch((e) => live && setError(e));
    return () => {
      live = false;
    };
  }, [p, ...(props.deps ?? [])]);
  const empty = data && data.spec.series.every((s) => s.values.every((v) => v === null));
  return (
    <section class="card dash" id={props.id}>
      <div class="card-head">
        <h3>{t(props.title)}</h3>
        <PeriodPicker id={`${props.id}-period`} value={period} onChange={setPeriod} />
      </div>
      {props.extra}
      {error !== null && <ErrorBox error={error} />}
      {!data && error === null && <Loading />}
      {data && empty && <p class="muted">{t('kpi.noData')}</p>}
      {data && !empty && (
        <LazyChart
          id={`${props.id}-chart`}
          label={t(props.title)}
          spec={data.spec}
          onClick={(s, i) => {
            const url = data.links[s]?.[i];
            setNoLink(!url);
            if (url) setDrill({ url, title: `${t(props.title)}: ${data.names[s]?.[i] ?? ''}` });
          }}
        />
      )}
      <p class="muted small">{t(props.hint ?? 'kpi.clickHint')}</p>
      {noLink && <p class="muted">{t('kpi.noDrill')}</p>}
      {drill && <Measurements url={drill.url} title={drill.title} onClose={() => setDrill(null)} />}
    </section>
  );
}

const who = (k: string) => (k === '' ? t('kpi.nobody') : k);

export function Dashboards() {
  const [grain, setGrain] = useState<'day' | 'week'>('day');
  return (
    <div class="page kpi-page" id="dashboards">
      <h1>{t('dash.title')}</h1>
      <div class="dash-grid">
        <ChartCard
          id="dash-trend"
          title="dash.trend"
          deps={[grain]}
          extra={
            <label class="inline">
              {t('dash.grain')}{' '}
              <select id="dash-grain" value={grain} onChange={(e) => setGrain((e.currentTarget as HTMLSelectElement).value as 'day' | 'week')}>
                <option value="day">{t('dash.byDay')}</option>
                <option value="week">{t('dash.byWeek')}</option>
              </select>
            </label>
          }
          load={async (period) => {
            const steps = (await indicator({ name: 'compliance', by: 'step', period })).filter((r) => r.has_data).map((r) => r.key);
            const per = await Promise.all(steps.slice(0, MAX_SERIES).map((step) => indicator({ name: 'compliance', by: grain, period, step })));
            const categories = per[0]?.map((r) => r.key) ?? [];
            return {
              spec: { kind: 'line', percent: true, categories, series: per.map((rows, i) => ({ name: steps[i]!, values: rows.map((r) => (r.has_data ? r.value : null)) })) },
              links: per.map((rows) => rows.map((r) => r.measurements)),
              names: per.map((rows, i) => rows.map((r) => `${steps[i]} ${r.key}`)),
            };
          }}
        />
        <ChartCard
          id="dash-p90"
          title="dash.p90"
          load={async (period) => {
            const rows = (await indicator({ name: 'elapsed_p90', by: 'step', period })).filter((r) => r.has_data);
            return {
              spec: { kind: 'bar', unit: t('unit.min'), categories: rows.map((r) => r.key), series: [{ name: 'p90', values: rows.map((r) => (r.value === null ? null : r.value / 60_000)) }] },
              links: [rows.map((r) => r.measurements)],
              names: [rows.map((r) => r.key)],
            };
          }}
        />
        <ChartCard
          id="dash-channel"
          title="dash.channel"
          hint="dash.channelHint"
          load={async (period) => {
            const rows = (await indicator({ name: 'volume', by: 'channel', period })).filter((r) => r.has_data);
            return {
              spec: { kind: 'bar', categories: rows.map((r) => r.key || t('kpi.none')), series: [{ name: t('dash.volume'), values: rows.map((r) => r.value) }] },
              links: [rows.map((r) => r.measurements)],
              names: [rows.map((r) => r.key)],
            };
          }}
        />
        <ChartCard
          id="dash-staff"
          title="dash.staff"
          load={async (period) => {
            const rows = (await indicator({ name: 'compliance', by: 'staff', period })).filter((r) => r.has_data);
            return {
              spec: { kind: 'bar', percent: true, categories: rows.map((r) => who(r.key)), series: [{ name: t('dash.compliance'), values: rows.map((r) => r.value) }] },
              links: [rows.map((r) => r.measurements)],
              names: [rows.map((r) => who(r.key))],
            };
          }}
        />
      </div>
    </div>
  );
}
