// The what-if panel of the process editor: posts the draft being edited with a period
// (default: last month, whole days in China time) and a target compliance to
// POST /api/v1/processes/{id}/whatif, and shows the live process beside the draft per step
// and per staff member with the change, and who would newly fall below the target
// (docs/whatif.md). Nothing is written by the replay.
import { useState } from 'preact/hooks';
import { api, ApiError } from '../../api';
import { ErrorBox } from '../../components/common';
import { locale, t } from '../../i18n';

interface Side {
  count: number;
  met: number;
  breached: number;
  excluded: number;
  open: number;
  compliance: number | null;
  p50_ms: number | null;
  p90_ms: number | null;
}
interface Delta {
  compliance: number | null;
  count: number | null;
  met: number | null;
  breached: number | null;
  p50_ms: number | null;
  p90_ms: number | null;
}
interface Row {
  step?: string;
  staff?: string;
  title?: { en: string; zh: string };
  live: Side | null;
  draft: Side | null;
  delta: Delta;
}
interface TargetSide {
  below: number;
  of: number;
  staff: string[];
}
export interface WhatIfAnswer {
  from: string;
  to: string;
  subjects: number;
  events: number;
  totals: { live: Side | null; draft: Side | null; delta: Delta };
  steps: Row[];
  staff: Row[];
  target: { compliance: number; live: TargetSide; draft: TargetSide; newly_below: string[]; no_longer_below: string[] } | null;
}

const pct = (v: number | null | undefined) => (v === null || v === undefined ? '—' : `${(v * 100).toFixed(1)}%`);
const pts = (v: number | null | undefined) => (v === null || v === undefined ? '—' : `${v >= 0 ? '+' : '−'}${Math.abs(v * 100).toFixed(1)} ${t('whatif.pts')}`);
function hours(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (Math.abs(ms) < 60_000) return `${Math.round(ms / 100) / 10} ${t('unit.s')}`;
  if (Math.abs(ms) < 3_600_000) return `${Math.round(ms / 6000) / 10} ${t('unit.min')}`;
  return `${Math.round(ms / 360_000) / 10} ${t('unit.h')}`;
}
const side = (s: Side | null) => (s ? `${pct(s.compliance)} (${s.met}/${s.met + s.breached})` : '—');

/** First and last day of the month before now, "YYYY-MM-DD". */
function lastMonthDays(now = new Date()): [string, string] {
  const y = now.getFullYear();
  const m = now.getMonth(); // this month 0-based → last month is m (1-based)
  const first = new Date(Date.UTC(y, m - 1, 1));
  const last = new Date(Date.UTC(y, m, 0));
  return [first.toISOString().slice(0, 10), last.toISOString().slice(0, 10)];
}
/** The instant after day d (YYYY-MM-DD) ends in China time. */
function dayAfter(d: string): string {
  const x = new Date(`${d}T00:00:00Z`);
  x.setUTCDate(x.getUTCDate() + 1);
  return `${x.toISOString().slice(0, 10)}T00:00:00+08:00`;
}

function Table(props: { id: string; head: string; rows: Row[]; name: (r: Row) => string; newly?: string[] }) {
  return (
    <table class="list whatif-table" id={props.id}>
      <thead>
        <tr>
          <th>{props.head}</th>
          <th class="num">{t('whatif.live')}</th>
          <th class="num">{t('whatif.draft')}</th>
          <th class="num">{t('whatif.change')}</th>
          <th class="num">{t('whatif.p90')}</th>
        </tr>
      </thead>
      <tbody>
        {props.rows.map((r) => {
          const n = props.name(r);
          const c = r.delta.compliance;
          return (
            <tr key={n} data-key={r.step ?? r.staff} class={props.newly?.includes(r.staff ?? '') ? 'breached' : ''}>
              <td>{n}</td>
              <td class="num live">{side(r.live)}</td>
              <td class="num draft">{side(r.draft)}</td>
              <td class={`num delta ${c !== null && c < 0 ? 'worse' : c !== null && c > 0 ? 'better' : ''}`}>{pts(c)}</td>
              <td class="num">
                {hours(r.live?.p90_ms)} → {hours(r.draft?.p90_ms)}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

export function WhatIf(props: { id: number; doc: unknown }) {
  const [lf, lt] = lastMonthDays();
  const [from, setFrom] = useState(lf);
  const [to, setTo] = useState(lt);
  const [target, setTarget] = useState('90');
  const [res, setRes] = useState<WhatIfAnswer | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    setError(null);
    setRes(null);
    const tg = Number(target);
    try {
      const r = await api<WhatIfAnswer>('POST', `/api/v1/processes/${props.id}/whatif`, {
        draft: props.doc,
        from: `${from}T00:00:00+08:00`,
        to: dayAfter(to),
        ...(target.trim() && tg > 0 && tg <= 100 ? { target: tg / 100 } : {}),
      });
      setRes(r.data);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const zh = locale() === 'zh-CN';
  return (
    <section class="card whatif" id="whatif">
      <h3>{t('proc.whatif')}</h3>
      <p class="muted">{t('proc.whatifHint')}</p>
      <div class="toolbar">
        <label>
          {t('kpi.from')} <input type="date" id="whatif-from" value={from} onChange={(e) => setFrom((e.currentTarget as HTMLInputElement).value)} />
        </label>
        <label>
          {t('kpi.to')} <input type="date" id="whatif-to" value={to} onChange={(e) => setTo((e.currentTarget as HTMLInputElement).value)} />
        </label>
        <label>
          {t('whatif.target')}{' '}
          <input type="number" id="whatif-target" min={1} max={100} step={1} size={4} value={target} onInput={(e) => setTarget((e.currentTarget as HTMLInputElement).value)} />%
        </label>
        <button type="button" id="whatif-run" class="primary" onClick={() => void run()} disabled={busy || !from || !to || from > to}>
          {t('whatif.run')}
        </button>
      </div>
      {error instanceof ApiError && (error.missingRoute || error.status === 405) ? (
        <p class="muted">{t('proc.whatifMissing')}</p>
      ) : (
        error !== null && <ErrorBox error={error} />
      )}
      {res && (
        <div id="whatif-result">
          <p class="muted small">{t('whatif.replayed', { subjects: res.subjects, events: res.events })}</p>
          <div class="whatif-totals" id="whatif-totals">
            <div>
              <span class="muted">{t('whatif.live')}</span>
              <strong class="live">{pct(res.totals.live?.compliance)}</strong>
            </div>
            <div>
              <span class="muted">{t('whatif.draft')}</span>
              <strong class="draft">{pct(res.totals.draft?.compliance)}</strong>
            </div>
            <div>
              <span class="muted">{t('whatif.change')}</span>
              <strong class={`delta ${(res.totals.delta.compliance ?? 0) < 0 ? 'worse' : ''}`}>{pts(res.totals.delta.compliance)}</strong>
            </div>
          </div>
          <h4>{t('whatif.perStep')}</h4>
          <Table id="whatif-steps" head={t('kpi.step')} rows={res.steps} name={(r) => (r.title ? (zh ? r.title.zh : r.title.en) : (r.step ?? ''))} />
          <h4>{t('whatif.perStaff')}</h4>
          {res.staff.length === 0 ? (
            <p class="muted">{t('kpi.noData')}</p>
          ) : (
            <Table id="whatif-staff" head={t('whatif.staff')} rows={res.staff} name={(r) => r.staff ?? ''} newly={res.target?.newly_below} />
          )}
          {res.target && (
            <div id="whatif-target-result">
              <p>
                {t('whatif.belowLine', {
                  target: pct(res.target.compliance),
                  live: res.target.live.below,
                  draft: res.target.draft.below,
                  of: res.target.draft.of,
                })}
              </p>
              <p class={res.target.newly_below.length ? 'warn' : 'muted'} id="whatif-newly">
                {t('whatif.newlyBelow')}: {res.target.newly_below.length ? res.target.newly_below.join(', ') : t('whatif.nobody')}
              </p>
              {res.target.no_longer_below.length > 0 && (
                <p class="muted">
                  {t('whatif.noLongerBelow')}: {res.target.no_longer_below.join(', ')}
                </p>
              )}
            </div>
          )}
        </div>
      )}
    </section>
  );
}
