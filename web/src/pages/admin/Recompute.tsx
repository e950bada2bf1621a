// "Recompute history" (admins), under the calendar and the process editors: a change to a
// calendar's past days or a newly published process version applies from now on; to have a
// past period re-measured with it, POST /api/v1/recompute answers a dry run first — which
// measurements and evaluations would change and how (nothing is written) — and its confirm
// token applies exactly what was reviewed (409 when anything changed since). Frozen
// evaluations never change; the score they would now get is recorded beside them. The
// applied runs of this calendar or process are listed below (GET /api/v1/recompute/runs).
// docs/recompute.md.
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from '../../api';
import { ErrorBox } from '../../components/common';
import { formatTime } from '../../i18n';
import { tu } from '../../i18n/uiadmin';
import { formatDuration } from './Admin';

interface Side {
  result: string;
  elapsed_ms: number | null;
  target_ms: number | null;
  charged_actor: string | null;
}
interface Example {
  subject: string;
  staff: string | null;
  before: Side | null;
  after: Side | null;
}
interface EvalItem {
  username: string;
  state: string;
  before: number | null;
  after: number | null;
  delta: number | null;
  frozen: boolean;
}
export interface RecomputeReport {
  dry_run: boolean;
  confirm: string;
  run_id?: number;
  subjects: number;
  instances?: { in_range: number; repinned: number; already: number };
  measurements: {
    compared: number;
    changed: number;
    result_changed: number;
    elapsed_changed: number;
    target_changed?: number;
    charge_changed?: number;
    flips: Record<string, number>;
    examples: Example[];
    examples_truncated?: boolean;
  };
  evaluations: { changed: number; unchanged: number; frozen: number; items: EvalItem[] };
}
interface Run {
  id: number;
  kind: 'calendar' | 'process';
  calendar_id: number | null;
  process_id: number | null;
  version: number | null;
  from: string;
  to: string | null;
  by: string;
  reason: string | null;
  created_at: string;
  changes: number;
  frozen_diffs: number;
}

/** The instant after day d (YYYY-MM-DD) ends in China time. */
function dayAfter(d: string): string {
  const x = new Date(`${d}T00:00:00Z`);
  x.setUTCDate(x.getUTCDate() + 1);
  return `${x.toISOString().slice(0, 10)}T00:00:00+08:00`;
}
/** The China-time day of an instant; with end, the day before an exclusive end. */
function chinaDay(iso: string, end = false): string {
  return new Date(Date.parse(iso) - (end ? 1 : 0) + 8 * 3_600_000).toISOString().slice(0, 10);
}
const side = (s: Side | null) => (s ? `${tu(s.result === 'met' ? 'rc.met' : s.result === 'breached' ? 'rc.breached' : 'rc.other')}${s.elapsed_ms !== null ? ` · ${formatDuration(s.elapsed_ms)}` : ''}${s.target_ms !== null ? ` / ${formatDuration(s.target_ms)}` : ''}` : '—');
const score = (v: number | null) => (v === null ? '—' : v.toFixed(2));
const flipText = (k: string) => k.replace('met', tu('rc.met')).replace('breached', tu('rc.breached'));

export function Recompute(props: { kind: 'calendar' | 'process'; id: number; versions?: number[] }) {
  const latest = props.versions?.length ? Math.max(...props.versions) : 0;
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [version, setVersion] = useState(latest);
  const [reason, setReason] = useState('');
  const [report, setReport] = useState<RecomputeReport | null>(null);
  const [applied, setApplied] = useState<RecomputeReport | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [stale, setStale] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [runs, setRuns] = useState<Run[]>([]);
  const loadRuns = () =>
    api<{ items: Run[] }>('GET', '/api/v1/recompute/runs?limit=100').then(
      (r) => setRuns(r.data.items.filter((x) => (props.kind === 'calendar' ? x.calendar_id === props.id : x.process_id === props.id))),
      () => setRuns([]),
    );
  useEffect(() => {
    void loadRuns();
  }, [props.kind, props.id]);
  useEffect(() => setVersion(latest), [latest]);
  const body = (dry: boolean) => ({
    ...(props.kind === 'calendar' ? { calendar: props.id } : { process: props.id, version }),
    from: `${from}T00:00:00+08:00`,
    ...(to ? { to: dayAfter(to) } : {}),
    ...(reason.trim() ? { reason: reason.trim() } : {}),
    dry_run: dry,
    ...(dry ? {} : { confirm: report?.confirm }),
  });
  const dryRun = async () => {
    setBusy(true);
    setError(null);
    setReport(null);
    setApplied(null);
    setStale(false);
    setConfirming(false);
    try {
      setReport((await api<RecomputeReport>('POST', '/api/v1/recompute', body(true))).data);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const apply = async () => {
    setBusy(true);
    setError(null);
    setConfirming(false);
    try {
      const r = await api<RecomputeReport>('POST', '/api/v1/recompute', body(false));
      setApplied(r.data);
      setReport(null);
      void loadRuns();
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) setStale(true);
      else setError(e);
    } finally {
      setBusy(false);
    }
  };
  const edit = (f: (v: string) => void) => (e: Event) => {
    f((e.currentTarget as HTMLInputElement).value);
    setReport(null); // what is applied must be what was reviewed
    setConfirming(false);
  };
  const needTo = props.kind === 'calendar';
  const m = report?.measurements;
  return (
    <section class="card recompute" id="recompute">
      <h3>{tu('rc.title')}</h3>
      <p class="muted">{tu(props.kind === 'calendar' ? 'rc.hintCalendar' : 'rc.hintProcess')}</p>
      <div class="toolbar">
        {props.kind === 'process' && (
          <label>
            {tu('rc.version')}{' '}
            <select id="recompute-version" value={String(version)} onChange={(e) => { setVersion(Number((e.currentTarget as HTMLSelectElement).value)); setReport(null); }}>
              {(props.versions ?? [])
                .slice()
                .sort((a, b) => b - a)
                .map((v) => (
                  <option key={v} value={String(v)}>
                    {v}
                  </option>
                ))}
            </select>
          </label>
        )}
        <label>
          {tu('rc.from')} <input type="date" id="recompute-from" value={from} onChange={edit(setFrom)} />
        </label>
        <label>
          {tu('rc.to')} <input type="date" id="recompute-to" value={to} onChange={edit(setTo)} />
          {!needTo && <span class="muted small"> {tu('rc.toOptional')}</span>}
        </label>
        <label>
          {tu('rc.reason')} <input type="text" id="recompute-reason" maxLength={500} value={reason} onInput={edit(setReason)} />
        </label>
        <button type="button" id="recompute-dry" onClick={() => void dryRun()} disabled={busy || !from || (needTo && !to) || (!!to && to < from) || (props.kind === 'process' && !version)}>
          {tu('rc.dryRun')}
        </button>
      </div>
      {error !== null && <ErrorBox error={error} />}
      {stale && (
        <p class="notice" role="alert" id="recompute-stale">
          {tu('rc.stale')}
        </p>
      )}
      {applied && (
        <p class="notice ok" role="status" id="recompute-applied">
          {tu('rc.applied', { id: applied.run_id ?? '—', n: applied.measurements.changed })}
        </p>
      )}
      {report && m && (
        <div id="recompute-report">
          <p id="recompute-summary">
            {tu('rc.summary', { subjects: report.subjects, compared: m.compared, changed: m.changed, results: m.result_changed })}
          </p>
          {report.instances && (
            <p class="muted" id="recompute-instances">
              {tu('rc.instances', { in_range: report.instances.in_range, repinned: report.instances.repinned, already: report.instances.already })}
            </p>
          )}
          {Object.keys(m.flips).length > 0 && (
            <ul class="flips" id="recompute-flips">
              {Object.entries(m.flips).map(([k, n]) => (
                <li key={k} data-flip={k}>
                  {flipText(k)}: <strong>{n}</strong>
                </li>
              ))}
            </ul>
          )}
          {m.examples.length > 0 && (
            <table class="list" id="recompute-examples">
              <thead>
                <tr>
                  <th>{tu('rc.subject')}</th>
                  <th>{tu('rc.staff')}</th>
                  <th>{tu('rc.before')}</th>
                  <th>{tu('rc.after')}</th>
                </tr>
              </thead>
              <tbody>
                {m.examples.map((x, i) => (
                  <tr key={i} data-subject={x.subject}>
                    <td>{x.subject}</td>
                    <td>{x.staff ?? '—'}</td>
                    <td class={x.before?.result ?? ''}>{side(x.before)}</td>
                    <td class={x.after?.result ?? ''}>{side(x.after)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {m.examples_truncated && <p class="muted small">{tu('rc.truncated')}</p>}
          <h4>{tu('rc.evaluations')}</h4>
          <p id="recompute-evals">{tu('rc.evalSummary', { changed: report.evaluations.changed, unchanged: report.evaluations.unchanged, frozen: report.evaluations.frozen })}</p>
          {report.evaluations.items.length > 0 && (
            <table class="list" id="recompute-eval-items">
              <thead>
                <tr>
                  <th>{tu('rc.staff')}</th>
                  <th class="num">{tu('rc.before')}</th>
                  <th class="num">{tu('rc.after')}</th>
                  <th>{tu('rc.note')}</th>
                </tr>
              </thead>
              <tbody>
                {report.evaluations.items.map((x) => (
                  <tr key={x.username} data-user={x.username}>
                    <td>{x.username}</td>
                    <td class="num">{score(x.before)}</td>
                    <td class="num">{score(x.after)}</td>
                    <td>{tu(x.frozen ? 'rc.frozenNote' : 'rc.recomputedNote')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {m.changed === 0 && report.evaluations.changed === 0 ? (
            <p class="muted" id="recompute-nothing">
              {tu('rc.nothing')}
            </p>
          ) : confirming ? (
            <div class="confirm inline" role="dialog" aria-label={tu('rc.confirm')} id="recompute-confirm">
              <p>{tu('rc.confirm')}</p>
              <div class="actions">
                <button type="button" id="recompute-cancel" onClick={() => setConfirming(false)}>
                  {tu('common.cancel')}
                </button>
                <button type="button" class="danger" id="recompute-apply-ok" onClick={() => void apply()} disabled={busy}>
                  {tu('rc.apply')}
                </button>
              </div>
            </div>
          ) : (
            <button type="button" class="primary" id="recompute-apply" onClick={() => setConfirming(true)} disabled={busy}>
              {tu('rc.apply')}
            </button>
          )}
        </div>
      )}
      <h4>{tu('rc.runs')}</h4>
      {runs.length === 0 ? (
        <p class="muted" id="recompute-no-runs">
          {tu('rc.noRuns')}
        </p>
      ) : (
        <ul class="versions" id="recompute-runs">
          {runs.map((r) => (
            <li key={r.id} data-run={r.id}>
              {tu('rc.runLine', { id: r.id, at: formatTime(r.created_at), by: r.by, from: chinaDay(r.from), to: r.to ? chinaDay(r.to, true) : tu('rc.noEnd'), n: r.changes })}
              {r.version !== null ? ` · ${tu('rc.version')} ${r.version}` : ''}
              {r.reason ? ` · ${r.reason}` : ''}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
