// Shared by the KPI screens: the period picker (month, ISO week, custom range → the
// indicators API's period strings), formatting of indicator values by unit, and the
// drill-down list of the measurements behind a figure.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../../api';
import { ErrorBox, Link, Loading } from '../../components/common';
import { locale, t, type MessageKey } from '../../i18n';

export type PeriodMode = 'month' | 'week' | 'range';

/** The month before today's, "YYYY-MM" (local clock). */
export function lastMonth(now = new Date()): string {
  const d = new Date(now.getFullYear(), now.getMonth() - 1, 1);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}`;
}

/** The first and last day of a "YYYY-MM" month as "YYYY-MM-DD". */
export function monthDays(m: string): [string, string] {
  const [y, mo] = m.split('-').map(Number) as [number, number];
  const last = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  return [`${m}-01`, `${m}-${String(last).padStart(2, '0')}`];
}

export interface PeriodState {
  mode: PeriodMode;
  month: string;
  week: string;
  from: string;
  to: string;
}

export function initialPeriod(month = lastMonth()): PeriodState {
  const [from, to] = monthDays(month);
  return { mode: 'month', month, week: '', from, to };
}

/** The period string of the indicators API, or null while incomplete. */
export function periodString(p: PeriodState): string | null {
  if (p.mode === 'month') return /^\d{4}-\d{2}$/.test(p.month) ? p.month : null;
  if (p.mode === 'week') return /^\d{4}-W\d{2}$/.test(p.week) ? p.week : null;
  return p.from && p.to && p.from <= p.to ? `${p.from}..${p.to}` : null;
}

export function PeriodPicker(props: { value: PeriodState; onChange: (p: PeriodState) => void; id: string }) {
  const p = props.value;
  const set = (patch: Partial<PeriodState>) => props.onChange({ ...p, ...patch });
  const modes: [PeriodMode, MessageKey][] = [
    ['month', 'kpi.month'],
    ['week', 'kpi.week'],
    ['range', 'kpi.range'],
  ];
  return (
    <fieldset class="period-picker" id={props.id}>
      <legend class="sr-only">{t('kpi.period')}</legend>
      <span class="seg" role="radiogroup" aria-label={t('kpi.period')}>
        {modes.map(([m, key]) => (
          <button type="button" key={m} role="radio" aria-checked={p.mode === m} class={p.mode === m ? 'on' : ''} data-mode={m} onClick={() => set({ mode: m })}>
            {t(key)}
          </button>
        ))}
      </span>
      {p.mode === 'month' && (
        <input type="month" aria-label={t('kpi.month')} class="period-month" value={p.month} onChange={(e) => set({ month: (e.currentTarget as HTMLInputElement).value })} />
      )}
      {p.mode === 'week' && (
        <input
          type="week"
          aria-label={t('kpi.week')}
          class="period-week"
          value={p.week}
          onChange={(e) => set({ week: (e.currentTarget as HTMLInputElement).value })}
        />
      )}
      {p.mode === 'range' && (
        <>
          <input type="date" aria-label={t('kpi.from')} class="period-from" value={p.from} onChange={(e) => set({ from: (e.currentTarget as HTMLInputElement).value })} />
          <span aria-hidden="true">–</span>
          <input type="date" aria-label={t('kpi.to')} class="period-to" value={p.to} onChange={(e) => set({ to: (e.currentTarget as HTMLInputElement).value })} />
        </>
      )}
    </fieldset>
  );
}

/** ms as a short duration: "4 s", "12.5 min", "25 h", "3.2 d". */
export function fmtDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  const a = Math.abs(ms);
  const sign = ms < 0 ? '−' : '';
  const r = (v: number) => String(Math.round(v * 10) / 10);
  if (a < 60_000) return `${sign}${r(a / 1000)} ${t('unit.s')}`;
  if (a < 3_600_000) return `${sign}${r(a / 60_000)} ${t('unit.min')}`;
  if (a < 172_800_000) return `${sign}${r(a / 3_600_000)} ${t('unit.h')}`;
  return `${sign}${r(a / 86_400_000)} ${t('unit.d')}`;
}

export function fmtPercent(v: number | null | undefined, digits = 1): string {
  return v === null || v === undefined ? '—' : `${(v * 100).toFixed(digits)}%`;
}

export function unitOf(indicator: string): 'ratio' | 'ms' | 'score' | 'count' {
  if (/^(compliance|abandonment|fcr|reopen_rate)$/.test(indicator)) return 'ratio';
  if (/^elapsed_/.test(indicator)) return 'ms';
  if (indicator === 'satisfaction') return 'score';
  return 'count';
}

export function fmtValue(indicator: string, v: number | null | undefined): string {
  if (v === null || v === undefined) return '—';
  const u = unitOf(indicator);
  if (u === 'ratio') return fmtPercent(v);
  if (u === 'ms') return fmtDuration(v);
  if (u === 'score') return v.toFixed(2);
  return String(v);
}

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleString(locale() === 'zh-CN' ? 'zh-CN' : 'en-GB', { timeZone: 'Asia/Shanghai', dateStyle: 'short', timeStyle: 'short' });
}

/** A bilingual label {en, zh} in the current language. */
export function label(l: { en?: string; zh?: string } | string | null | undefined): string {
  if (!l) return '';
  if (typeof l === 'string') return l;
  return (locale() === 'zh-CN' ? l.zh || l.en : l.en || l.zh) ?? '';
}

export interface Measurement {
  id: number;
  subject: string;
  step: string;
  started_at: string;
  done_at: string | null;
  elapsed_ms: number;
  target_ms: number;
  over_ms?: number;
  result: string | null;
  state: string;
  charged_actor?: string | null;
  charged_to?: string | null;
}

/**
 * The measurements behind a figure, read from url (a drill-down link of the indicators
 * API or an evaluation item's measurements), with "more" paging through next_cursor.
 */
export function Measurements(props: { url: string; title: string; onClose?: () => void }) {
  const [items, setItems] = useState<Measurement[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const load = async (cursor: string | null) => {
    try {
      const sep = props.url.includes('?') ? '&' : '?';
      const r = await api<{ items: Measurement[]; next_cursor: string | null }>(
        'GET',
        `${props.url}${sep}limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      );
      setItems((old) => (cursor && old ? [...old, ...r.data.items] : r.data.items));
      setNext(r.data.next_cursor);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    setItems(null);
    setError(null);
    void load(null);
  }, [props.url]);
  return (
    <section class="card drill" id="drill" aria-live="polite">
      <div class="card-head">
        <h3>{props.title}</h3>
        {props.onClose && (
          <button type="button" onClick={props.onClose}>
            {t('common.close')}
          </button>
        )}
      </div>
      {error !== null && <ErrorBox error={error} />}
      {items === null && error === null && <Loading />}
      {items !== null && items.length === 0 && <p class="muted">{t('kpi.noMeasurements')}</p>}
      {items !== null && items.length > 0 && (
        <table class="list" id="measurements">
          <thead>
            <tr>
              <th>{t('kpi.subject')}</th>
              <th>{t('kpi.step')}</th>
              <th>{t('kpi.started')}</th>
              <th>{t('kpi.done')}</th>
              <th>{t('kpi.elapsed')}</th>
              <th>{t('kpi.standard')}</th>
              <th>{t('kpi.over')}</th>
              <th>{t('kpi.result')}</th>
              <th>{t('kpi.charged')}</th>
            </tr>
          </thead>
          <tbody>
            {items.map((m) => {
              const over = m.over_ms ?? Math.max(0, m.elapsed_ms - m.target_ms);
              return (
                <tr key={m.id} class={m.result === 'breached' ? 'breached' : ''}>
                  <td class="mono">{m.subject}</td>
                  <td>{m.step}</td>
                  <td>{fmtTime(m.started_at)}</td>
                  <td>{fmtTime(m.done_at)}</td>
                  <td>{fmtDuration(m.elapsed_ms)}</td>
                  <td>{fmtDuration(m.target_ms)}</td>
                  <td>{over > 0 ? fmtDuration(over) : '—'}</td>
                  <td>{m.result ? t(`kpi.res.${m.result}` as MessageKey) : t('kpi.res.open')}</td>
                  <td>{m.charged_to ?? m.charged_actor ?? '—'}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {next && (
        <button type="button" onClick={() => void load(next)}>
          {t('kpi.more')}
        </button>
      )}
    </section>
  );
}

export { Link };
