// Processes: the list, and an editor for a process's draft — name, description, calendar,
// trigger and, per step, key, titles, function, the standard (within, business or wall
// time), warning points, whom it is charged to and the event matchers — with a flow drawing
// of the steps (SVG). "Save draft" is PATCH /api/v1/processes/{id} with If-Match;
// "Publish" saves and then POST /api/v1/processes/{id}/publish, whose 422 problem+json
// names every bad field by JSON Pointer ("/steps/0/standard/within"), shown under that
// field. The what-if panel calls POST /api/v1/processes/{id}/whatif (another part's route).
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, fieldErrors } from '../../api';
import { ErrorBox, Link, Loading } from '../../components/common';
import { formatTime, locale, t } from '../../i18n';
import { navigate } from '../../router';
import { useSession } from '../../session';
import { type Notice, FieldError, OtherErrors, scrollToError } from './Admin';
import { loadAll } from './Users';
import { WhatIf } from './WhatIf';
import { Recompute } from './Recompute';

type Json = Record<string, unknown>;
interface Step extends Json {
  key: string;
  title?: { en?: string; zh?: string } | string;
  function?: string;
  standard?: { within?: string; time?: string };
  warn_at?: (number | string)[];
  charge_to?: string;
}
interface ProcDoc extends Json {
  name: string;
  description?: string;
  calendar?: string;
  trigger?: Json;
  steps: Step[];
}
interface ProcRec {
  id: number;
  name: string;
  version: number;
  updated_at: string;
  draft: ProcDoc;
  latest_version?: number;
  versions?: { number: number; published_at: string; published_by: string | null }[];
}

const FUNCTIONS = ['answer_call', 'call_back', 'reply', 'assign', 'resolve', 'greet', 'close', 'follow_up', 'escalate', 'survey', 'other'];
const CHARGES = ['actor', 'team', 'segments', 'per'];
const MATCHERS: [string, 'proc.startsOn' | 'proc.doneOn' | 'proc.cancelsOn' | 'proc.pausesOn' | 'proc.resumesOn'][] = [
  ['starts_on', 'proc.startsOn'],
  ['done_on', 'proc.doneOn'],
  ['cancels_on', 'proc.cancelsOn'],
  ['pauses_on', 'proc.pausesOn'],
  ['resumes_on', 'proc.resumesOn'],
];

export function stepTitle(s: Step): string {
  if (typeof s.title === 'string') return s.title;
  return (locale() === 'zh-CN' ? s.title?.zh || s.title?.en : s.title?.en || s.title?.zh) || s.key;
}

/** A new process's first draft: one step, "resolve a case within 3 business days". */
function starter(name: string): ProcDoc {
  return {
    name,
    calendar: 'default',
    description: '',
    trigger: { type: 'case.opened' },
    steps: [{ key: 'resolve', title: { en: 'Resolve within 3 business days', zh: '3个工作日内解决' }, function: 'resolve', done_on: { type: 'case.resolved' }, cancels_on: { type: 'case.closed' }, standard: { within: '3 business days' }, charge_to: 'actor' }],
  };
}

export function Processes() {
  const s = useSession();
  const canEdit = s?.user.role === 'admin' || s?.user.role === 'supervisor';
  const [procs, setProcs] = useState<ProcRec[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [name, setName] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  useEffect(() => {
    loadAll<ProcRec>('/api/v1/processes').then(setProcs, setError);
  }, []);
  const create = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    setError(null);
    try {
      const r = await api<ProcRec>('POST', '/api/v1/processes', starter(name));
      navigate(`/app/admin/processes/${r.data.id}`);
    } catch (x) {
      setErrors(fieldErrors(x));
      setError(x);
    }
  };
  if (error && !procs) return <ErrorBox error={error} />;
  if (!procs) return <Loading />;
  return (
    <section class="card">
      <h2>{t('proc.title')}</h2>
      <div class="table-wrap">
        <table class="list" id="processes">
          <thead>
            <tr>
              <th scope="col">{t('proc.name')}</th>
              <th scope="col">{t('proc.trigger')}</th>
              <th scope="col">{t('proc.steps')}</th>
              <th scope="col">{t('proc.version')}</th>
              <th scope="col">{t('proc.updated')}</th>
            </tr>
          </thead>
          <tbody>
            {procs.map((p) => (
              <tr key={p.id}>
                <td>
                  <Link href={`/app/admin/processes/${p.id}`}>{p.name}</Link>
                </td>
                <td class="mono">{String((p.draft?.trigger as Json | undefined)?.type ?? '')}</td>
                <td>{(p.draft?.steps ?? []).map((s) => stepTitle(s)).join(' → ')}</td>
                <td>{p.latest_version ?? '—'}</td>
                <td>{formatTime(p.updated_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {canEdit && (
        <form class="admin-form inline-form" id="new-process" onSubmit={create}>
          <h3>{t('proc.new')}</h3>
          <label>
            {t('proc.name')}
            <input id="new-process-name" value={name} required onInput={(e) => setName(e.currentTarget.value)} />
            <FieldError errors={errors} at="/name" />
          </label>
          <button type="submit" class="primary">
            {t('admin.create')}
          </button>
          <OtherErrors errors={errors} shown={(p) => p === '/name'} />
          {error !== null && !Object.keys(errors).length && <ErrorBox error={error} />}
        </form>
      )}
    </section>
  );
}

/** JSON text of a matcher for its textarea ("" for none). */
function mtext(v: unknown): string {
  return v === undefined || v === null ? '' : JSON.stringify(v);
}

export function ProcessEditor(props: { id: string }) {
  const s = useSession();
  const canEdit = s?.user.role === 'admin' || s?.user.role === 'supervisor';
  const canPublish = s?.user.role === 'admin';
  const [rec, setRec] = useState<ProcRec | null>(null);
  const [etag, setEtag] = useState<string | null>(null);
  const [doc, setDoc] = useState<ProcDoc | null>(null);
  const [texts, setTexts] = useState<Record<string, string>>({}); // matcher JSON being typed, by pointer
  const [calendars, setCalendars] = useState<string[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [notice, setNotice] = useState<Notice>(null);
  const [busy, setBusy] = useState(false);
  const [dirty, setDirty] = useState(false);

  const load = async () => {
    setError(null);
    try {
      const r = await api<ProcRec>('GET', `/api/v1/processes/${props.id}`);
      setRec(r.data);
      setEtag(r.etag);
      setDoc(structuredClone(r.data.draft));
      setTexts({});
      setDirty(false);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    void load();
    loadAll<{ name: string }>('/api/v1/calendars').then((c) => setCalendars(c.map((x) => x.name)), () => undefined);
  }, [props.id]);

  if (error && !doc) return <ErrorBox error={error} onRetry={() => void load()} />;
  if (!doc || !rec) return <Loading />;
  const latest = (rec.versions ?? []).reduce((m, v) => Math.max(m, v.number), rec.latest_version ?? 0);
  const next = latest + 1;

  const change = (fn: (d: ProcDoc) => void) => {
    const d = structuredClone(doc);
    fn(d);
    setDoc(d);
    setDirty(true);
  };
  const setMatcher = (i: number, name: string, text: string) => {
    const ptr = `/steps/${i}/${name}`;
    setTexts({ ...texts, [ptr]: text });
    const e = { ...errors };
    delete e[ptr];
    if (!text.trim()) {
      change((d) => void delete d.steps[i]![name]);
    } else {
      try {
        const v: unknown = JSON.parse(text);
        change((d) => void (d.steps[i]![name] = v));
      } catch {
        e[ptr] = t('proc.badJson');
      }
    }
    setErrors(e);
  };
  const localErrors = () => Object.entries(errors).some(([, d]) => d === t('proc.badJson'));

  /** Saves the draft; the new ETag, or null when it failed (errors shown). */
  const saveDraft = async (): Promise<string | null> => {
    if (localErrors()) {
      setNotice(['admin.invalid']);
      return null;
    }
    try {
      const r = await api<ProcRec>('PATCH', `/api/v1/processes/${rec.id}`, doc, { ifMatch: etag });
      setRec(r.data);
      setEtag(r.etag);
      setDirty(false);
      return r.etag;
    } catch (e) {
      if (e instanceof ApiError && e.status === 412) {
        await load();
        setNotice(['admin.stale']);
      } else {
        setErrors(fieldErrors(e));
        setError(e);
        setNotice(['admin.invalid']);
        scrollToError();
      }
      return null;
    }
  };
  const onSave = async () => {
    setBusy(true);
    setErrors({});
    setError(null);
    setNotice(null);
    if ((await saveDraft()) !== null) setNotice(['proc.draftSaved']);
    setBusy(false);
  };
  const onPublish = async () => {
    setBusy(true);
    setErrors({});
    setError(null);
    setNotice(null);
    try {
      let tag = etag;
      if (dirty && !(tag = await saveDraft())) return;
      const r = await api<{ number: number }>('POST', `/api/v1/processes/${rec.id}/publish`, undefined, { ifMatch: tag });
      setNotice(['proc.published', { n: r.data.number }]);
      const again = await api<ProcRec>('GET', `/api/v1/processes/${rec.id}`);
      setRec(again.data);
      setEtag(again.etag);
    } catch (e) {
      if (e instanceof ApiError && e.status === 412) {
        await load();
        setNotice(['admin.stale']);
      } else {
        setErrors(fieldErrors(e));
        setError(e);
        setNotice(Object.keys(fieldErrors(e)).length ? ['admin.invalid'] : null);
        scrollToError();
      }
    } finally {
      setBusy(false);
    }
  };

  const known = new Set<string>(['/name', '/description', '/calendar', '/trigger', '/trigger/type', '/steps']);
  doc.steps.forEach((_, i) => {
    for (const f of ['key', 'title', 'title/en', 'title/zh', 'function', 'standard', 'standard/within', 'standard/time', 'warn_at', 'charge_to', ...MATCHERS.map(([m]) => m)]) known.add(`/steps/${i}/${f}`);
  });
  const ro = !canEdit;
  return (
    <div class="admin-body process-editor">
      <header class="page-head">
        <Link href="/app/admin/processes" class="back">
          ← {t('proc.title')}
        </Link>
        <h2 id="process-name">{rec.name}</h2>
        <span class="muted">
          {t('proc.version')}: <span id="process-version">{latest || '—'}</span>
        </span>
      </header>
      {notice && (
        <p class={Object.keys(errors).length ? 'notice' : 'notice ok'} role="status" id="process-notice">
          {t(notice[0], notice[1])}
        </p>
      )}
      <section class="card">
        <div class="form-grid">
          <label>
            {t('proc.name')}
            <input id="proc-name" value={doc.name} disabled={ro} onInput={(e) => change((d) => void (d.name = e.currentTarget.value))} />
            <FieldError errors={errors} at="/name" />
          </label>
          <label>
            {t('proc.calendar')}
            <select id="proc-calendar" value={doc.calendar ?? 'default'} disabled={ro} onChange={(e) => change((d) => void (d.calendar = e.currentTarget.value))}>
              {['default', ...calendars].map((c) => (
                <option key={c} value={c}>
                  {c}
                </option>
              ))}
            </select>
            <FieldError errors={errors} at="/calendar" />
          </label>
          <label>
            {t('proc.trigger')}
            <input id="proc-trigger" class="mono" value={String(doc.trigger?.type ?? '')} disabled={ro} onInput={(e) => change((d) => void (d.trigger = { ...(d.trigger ?? {}), type: e.currentTarget.value }))} />
            <FieldError errors={errors} at="/trigger" />
            <FieldError errors={errors} at="/trigger/type" />
          </label>
        </div>
        <label>
          {t('proc.description')}
          <textarea rows={2} value={doc.description ?? ''} disabled={ro} onInput={(e) => change((d) => void (d.description = e.currentTarget.value))} />
        </label>
      </section>
      <section class="card">
        <h3>{t('proc.flow')}</h3>
        <FlowDiagram doc={doc} />
      </section>
      <h3>{t('proc.steps')}</h3>
      <FieldError errors={errors} at="/steps" />
      {doc.steps.map((st, i) => {
        const at = (f: string) => `/steps/${i}/${f}`;
        const title = typeof st.title === 'object' && st.title ? st.title : { en: typeof st.title === 'string' ? st.title : '' };
        return (
          <section class="card step" key={i} data-step={st.key} id={`step-${i}`}>
            <header class="card-head">
              <h4>
                {t('proc.step', { n: i + 1 })}: {stepTitle(st)}
              </h4>
              {canEdit && (
                <span class="step-tools">
                  <button type="button" class="small" disabled={i === 0} onClick={() => change((d) => void d.steps.splice(i - 1, 0, d.steps.splice(i, 1)[0]!))}>
                    {t('proc.up')}
                  </button>
                  <button type="button" class="small" disabled={i === doc.steps.length - 1} onClick={() => change((d) => void d.steps.splice(i + 1, 0, d.steps.splice(i, 1)[0]!))}>
                    {t('proc.down')}
                  </button>
                  <button type="button" class="small danger" onClick={() => change((d) => void d.steps.splice(i, 1))}>
                    {t('proc.removeStep')}
                  </button>
                </span>
              )}
            </header>
            <div class="form-grid">
              <label>
                {t('proc.key')}
                <input class="mono step-key" value={st.key} disabled={ro} onInput={(e) => change((d) => void (d.steps[i]!.key = e.currentTarget.value))} />
                <FieldError errors={errors} at={at('key')} />
              </label>
              <label>
                {t('proc.titleEn')}
                <input value={title.en ?? ''} disabled={ro} onInput={(e) => change((d) => void (d.steps[i]!.title = { ...title, en: e.currentTarget.value }))} />
                <FieldError errors={errors} at={at('title')} />
              </label>
              <label>
                {t('proc.titleZh')}
                <input value={title.zh ?? ''} disabled={ro} onInput={(e) => change((d) => void (d.steps[i]!.title = { ...title, zh: e.currentTarget.value }))} />
              </label>
              <label>
                {t('proc.function')}
                <select value={st.function ?? 'other'} disabled={ro} onChange={(e) => change((d) => void (d.steps[i]!.function = e.currentTarget.value))}>
                  {FUNCTIONS.map((f) => (
                    <option key={f} value={f}>
                      {f}
                    </option>
                  ))}
                </select>
                <FieldError errors={errors} at={at('function')} />
              </label>
              <label>
                {t('proc.within')}
                <input
                  class={`mono within${errors[at('standard/within')] ? ' invalid' : ''}`}
                  value={st.standard?.within ?? ''}
                  placeholder="24h"
                  title={t('proc.withinHint')}
                  aria-invalid={!!errors[at('standard/within')]}
                  disabled={ro}
                  onInput={(e) => change((d) => void (d.steps[i]!.standard = { ...(d.steps[i]!.standard ?? {}), within: e.currentTarget.value }))}
                />
                <FieldError errors={errors} at={at('standard/within')} />
                <FieldError errors={errors} at={at('standard')} />
              </label>
              <label>
                {t('proc.time')}
                <select
                  class="time"
                  value={st.standard?.time ?? 'business'}
                  disabled={ro}
                  onChange={(e) => change((d) => void (d.steps[i]!.standard = { ...(d.steps[i]!.standard ?? {}), time: e.currentTarget.value }))}
                >
                  <option value="business">{t('proc.time.business')}</option>
                  <option value="wall">{t('proc.time.wall')}</option>
                </select>
                <FieldError errors={errors} at={at('standard/time')} />
              </label>
              <label>
                {t('proc.warnAt')}
                <input
                  class="mono"
                  value={(st.warn_at ?? []).join(', ')}
                  title={t('proc.warnHint')}
                  disabled={ro}
                  onChange={(e) =>
                    change(
                      (d) =>
                        void (d.steps[i]!.warn_at = e.currentTarget.value
                          .split(',')
                          .map((x) => x.trim())
                          .filter(Boolean)
                          .map((x) => (/^\d*\.?\d+$/.test(x) ? Number(x) : x))),
                    )
                  }
                />
                <FieldError errors={errors} at={at('warn_at')} />
              </label>
              <label>
                {t('proc.chargeTo')}
                <select value={st.charge_to ?? 'actor'} disabled={ro} onChange={(e) => change((d) => void (d.steps[i]!.charge_to = e.currentTarget.value))}>
                  {CHARGES.map((c) => (
                    <option key={c} value={c}>
                      {c}
                    </option>
                  ))}
                </select>
                <FieldError errors={errors} at={at('charge_to')} />
              </label>
            </div>
            <details class="matchers" open={MATCHERS.some(([m]) => Object.keys(errors).some((p) => p.startsWith(at(m))))}>
              <summary>{t('proc.matcherHint')}</summary>
              <div class="form-grid">
                {MATCHERS.map(([m, k]) => (
                  <label key={m}>
                    {t(k)}
                    <textarea class="mono" rows={2} disabled={ro} value={texts[at(m)] ?? mtext(st[m])} onInput={(e) => setMatcher(i, m, e.currentTarget.value)} />
                    {Object.entries(errors)
                      .filter(([p]) => p === at(m) || p.startsWith(`${at(m)}/`))
                      .map(([p]) => (
                        <FieldError key={p} errors={errors} at={p} />
                      ))}
                  </label>
                ))}
              </div>
            </details>
          </section>
        );
      })}
      {canEdit && (
        <button
          type="button"
          id="add-step"
          onClick={() =>
            change((d) =>
              d.steps.push({ key: `step_${d.steps.length + 1}`, title: { en: '', zh: '' }, function: 'other', done_on: { type: 'case.resolved' }, standard: { within: '1 business days' }, charge_to: 'actor' }),
            )
          }
        >
          + {t('proc.addStep')}
        </button>
      )}
      <OtherErrors errors={errors} shown={(p) => known.has(p) || [...known].some((k) => MATCHERS.some(([m]) => k.endsWith(`/${m}`) && p.startsWith(`${k}/`)))} />
      {error !== null && !Object.keys(errors).length && <ErrorBox error={error} />}
      {canEdit && (
        <div class="actions sticky-actions">
          <button type="button" onClick={() => void load()} disabled={busy}>
            {t('common.cancel')}
          </button>
          <button type="button" id="process-save" onClick={() => void onSave()} disabled={busy}>
            {t('proc.saveDraft')}
          </button>
          {canPublish && (
            <button type="button" class="primary" id="process-publish" onClick={() => void onPublish()} disabled={busy}>
              {t('proc.publish', { n: next })}
            </button>
          )}
        </div>
      )}
      <WhatIf id={rec.id} doc={doc} />
      {canPublish && (rec.versions ?? []).length > 0 && <Recompute kind="process" id={rec.id} versions={(rec.versions ?? []).map((v) => v.number)} />}
      <section class="card">
        <h3>{t('proc.versions')}</h3>
        <ul class="versions" id="versions">
          {(rec.versions ?? [])
            .slice()
            .sort((a, b) => b.number - a.number)
            .map((v) => (
              <li key={v.number}>{t('proc.versionLine', { n: v.number, at: formatTime(v.published_at), by: v.published_by ?? '—' })}</li>
            ))}
        </ul>
      </section>
    </div>
  );
}

/** Where a step starts: after another step ({"step_done": key}) or at the trigger. */
function startsAfter(st: Step): string | null {
  const so = st.starts_on as Json | undefined;
  return so && typeof so.step_done === 'string' ? so.step_done : null;
}

/**
 * The flow drawing: the trigger, then the steps as boxes in columns by depth (a step that
 * starts on another's completion sits one column to its right), arrows from the trigger or
 * from the step it waits for. Each box shows the title and the standard.
 */
export function FlowDiagram(props: { doc: ProcDoc }) {
  const steps = props.doc.steps;
  const W = 190;
  const H = 58;
  const GX = 46;
  const GY = 18;
  const depth = new Map<number, number>();
  const byKey = new Map(steps.map((s, i) => [s.key, i]));
  const depthOf = (i: number, seen = new Set<number>()): number => {
    if (depth.has(i)) return depth.get(i)!;
    const after = startsAfter(steps[i]!);
    const j = after !== null ? byKey.get(after) : undefined;
    const d = j !== undefined && !seen.has(j) ? depthOf(j, seen.add(i)) + 1 : 1;
    depth.set(i, d);
    return d;
  };
  steps.forEach((_, i) => depthOf(i));
  // Rows: a step that waits for another sits level with it when that row is free.
  const taken = new Set<string>();
  const row = new Map<number, number>();
  const order = steps.map((_, i) => i).sort((a, b) => depth.get(a)! - depth.get(b)! || a - b);
  for (const i of order) {
    const d = depth.get(i)!;
    const after = startsAfter(steps[i]!);
    const j = after !== null ? byKey.get(after) : undefined;
    let r = j !== undefined && row.has(j) ? row.get(j)! : 0;
    while (taken.has(`${d}:${r}`)) r++;
    taken.add(`${d}:${r}`);
    row.set(i, r);
  }
  const pos = steps.map((_, i) => ({ x: 10 + depth.get(i)! * (W + GX), y: 10 + row.get(i)! * (H + GY) }));
  const maxRows = Math.max(1, ...[...row.values()].map((r) => r + 1));
  const width = 10 + (Math.max(0, ...depth.values()) + 1) * (W + GX);
  const height = 20 + maxRows * (H + GY);
  const trig = { x: 10, y: 10 + ((maxRows - 1) * (H + GY)) / 2 };
  const trigger = String(props.doc.trigger?.type ?? '?');
  const arrow = (x1: number, y1: number, x2: number, y2: number, k: string) => {
    const mx = (x1 + x2) / 2;
    return <path key={k} d={`M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2 - 6},${y2}`} class="flow-arrow" marker-end="url(#flow-head)" />;
  };
  return (
    <svg class="flow" id="flow" viewBox={`0 0 ${width} ${height}`} width={width} height={height} role="img" aria-label={t('proc.flow')}>
      <defs>
        <marker id="flow-head" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
          <path d="M0,0 L10,5 L0,10 z" class="flow-head" />
        </marker>
      </defs>
      <g class="flow-trigger">
        <rect x={trig.x} y={trig.y} width={W} height={H} rx={29} />
        <text x={trig.x + W / 2} y={trig.y + 23} text-anchor="middle" class="flow-small">
          {t('proc.flowTrigger')}
        </text>
        <text x={trig.x + W / 2} y={trig.y + 42} text-anchor="middle" class="flow-mono">
          {trigger}
        </text>
      </g>
      {steps.map((st, i) => {
        const p = pos[i]!;
        const after = startsAfter(st);
        const j = after !== null ? byKey.get(after) : undefined;
        const from = j !== undefined ? { x: pos[j]!.x + W, y: pos[j]!.y + H / 2 } : { x: trig.x + W, y: trig.y + H / 2 };
        return arrow(from.x, from.y, p.x, p.y + H / 2, `a${i}`);
      })}
      {steps.map((st, i) => {
        const p = pos[i]!;
        const title = stepTitle(st);
        return (
          <g key={i} class="flow-step" data-step={st.key}>
            <rect x={p.x} y={p.y} width={W} height={H} rx={8} />
            <text x={p.x + 10} y={p.y + 22} class="flow-title">
              {title.length > 16 ? `${title.slice(0, 15)}…` : title}
            </text>
            <text x={p.x + 10} y={p.y + 43} class="flow-mono">
              {st.standard?.within ?? '?'} · {st.standard?.time === 'wall' ? t('proc.time.wall') : t('proc.time.business')}
              {st.pauses_on ? ' · ⏸' : ''}
            </text>
          </g>
        );
      })}
    </svg>
  );
}
