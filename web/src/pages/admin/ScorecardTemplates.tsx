// Scorecard templates (admins): the list, and an editor for one template — name, titles,
// role, period, scope, automatic computation and the items (indicator, filter by process /
// step / channel, weight, floor, target, direction, critical, labels) — with a preview of a
// period. GET/POST /api/v1/scorecards/templates, GET/PUT/DELETE …/templates/{id} (If-Match;
// a 412 shows a conflict the admin resolves by loading the other version or saving over
// it), GET /api/v1/scorecards/indicators; the preview posts the editor's document to
// POST /api/v1/scorecards/preview?period=, which computes it and rolls back. A 422's
// problems (of a save or a preview) are shown under the control their JSON Pointer names
// ("/items/1/target"). DELETE archives the template: evaluations already computed stay.
// The history panel (History.tsx) reads the audit trail.
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, fieldErrors } from '../../api';
import { ErrorBox, Link, Loading } from '../../components/common';
import { formatTime, locale } from '../../i18n';
import { tu, type UKey, type UNotice } from '../../i18n/uiadmin';
import { navigate } from '../../router';
import { useSession } from '../../session';
import { FieldError, OtherErrors, formatDuration, scrollToError } from './Admin';
import { loadAll } from './Users';
import { History } from './History';

type Bi = { en?: string; zh?: string };
interface Item {
  key: string;
  indicator: string;
  label?: Bi;
  filter?: { process?: number | string; step?: string; channel?: string };
  weight?: number;
  floor?: number;
  target?: number;
  direction?: 'higher' | 'lower';
  critical?: boolean;
}
interface TemplateDoc {
  name: string;
  title?: Bi;
  role: string;
  period: string;
  auto?: boolean;
  scope?: string;
  items: Item[];
}
interface TemplateRec extends TemplateDoc {
  id: number;
  version: number;
  created_at: string;
  updated_at: string;
}
interface Indicator {
  name: string;
  direction: 'higher' | 'lower';
  unit: string;
  label: Bi;
}
interface ProcLite {
  id: number;
  name: string;
  draft?: { steps?: { key: string }[] };
}
const ROLES = ['agent', 'supervisor', 'admin'];
const PERIODS = ['month', 'week', 'quarter'];
const CHANNELS = ['phone', 'email', 'counter', 'web', 'system'];

function bi(l: Bi | string | undefined): string {
  if (!l) return '';
  if (typeof l === 'string') return l;
  return (locale() === 'zh-CN' ? l.zh || l.en : l.en || l.zh) ?? '';
}

/** A value in the indicator's unit, readable: ratio as %, ms as a duration. */
function fmtUnit(unit: string | undefined, v: number | undefined): string {
  if (v === undefined || v === null || Number.isNaN(v)) return '';
  if (unit === 'ratio') return `${Math.round(v * 1000) / 10} %`;
  if (unit === 'ms') return formatDuration(v);
  return String(v);
}

/** The last ended period of a kind, as of today (Asia/Shanghai): "2026-10", "2026-W47", "2026-Q3". */
export function lastEndedPeriod(kind: string, now = new Date()): string {
  const sh = new Date(now.getTime() + 8 * 3600e3); // China has no DST: UTC+8 all year
  const y = sh.getUTCFullYear();
  const m = sh.getUTCMonth(); // 0-based
  if (kind === 'quarter') {
    const q = Math.floor(m / 3); // current quarter 0..3; the last ended one is q-1
    return q === 0 ? `${y - 1}-Q4` : `${y}-Q${q}`;
  }
  if (kind === 'week') {
    // ISO week of (today − 7 days): Thursday of that week decides the year.
    const d = new Date(Date.UTC(y, m, sh.getUTCDate() - 7));
    const dow = (d.getUTCDay() + 6) % 7; // Monday 0
    d.setUTCDate(d.getUTCDate() - dow + 3);
    const wy = d.getUTCFullYear();
    const w = Math.floor((d.getTime() - Date.UTC(wy, 0, 1)) / 864e5 / 7) + 1; // Thursday's week of its year
    return `${wy}-W${String(w).padStart(2, '0')}`;
  }
  return m === 0 ? `${y - 1}-12` : `${y}-${String(m).padStart(2, '0')}`;
}

function blankItem(n: number, ind?: Indicator): Item {
  return { key: `i${n}`, indicator: ind?.name ?? 'compliance', weight: 1, floor: 0.5, target: 1, critical: false };
}

function starter(): TemplateDoc {
  return { name: '', title: { en: '', zh: '' }, role: 'agent', period: 'month', auto: true, scope: 'person', items: [blankItem(1)] };
}

/** The document the API takes: empty optional fields left out, numbers as numbers. */
function cleanDoc(d: TemplateDoc): Record<string, unknown> {
  const out: Record<string, unknown> = { name: d.name, role: d.role, period: d.period, auto: d.auto !== false, scope: d.scope || 'person' };
  if (d.title && (d.title.en || d.title.zh)) out.title = { en: d.title.en || d.title.zh, zh: d.title.zh || d.title.en };
  out.items = d.items.map((it) => {
    const o: Record<string, unknown> = { key: it.key, indicator: it.indicator };
    const f: Record<string, unknown> = {};
    if (it.filter?.process !== undefined && it.filter.process !== '') f.process = it.filter.process;
    if (it.filter?.step) f.step = it.filter.step;
    if (it.filter?.channel) f.channel = it.filter.channel;
    if (Object.keys(f).length) o.filter = f;
    if (it.label && (it.label.en || it.label.zh)) o.label = { en: it.label.en || it.label.zh, zh: it.label.zh || it.label.en };
    for (const k of ['weight', 'floor', 'target'] as const) if (it[k] !== undefined) o[k] = it[k];
    if (it.direction) o.direction = it.direction;
    o.critical = !!it.critical;
    return o;
  });
  return out;
}

/** The template as the editor holds it (the API's answer minus its bookkeeping). */
function docOf(r: TemplateRec): TemplateDoc {
  return {
    name: r.name,
    title: r.title ?? { en: '', zh: '' },
    role: r.role,
    period: r.period,
    auto: r.auto,
    scope: r.scope,
    items: r.items.map((it) => ({ ...it, filter: { ...(it.filter ?? {}) }, label: { ...(it.label ?? {}) } })),
  };
}

export function ScorecardTemplates() {
  const s = useSession();
  const admin = s?.user.role === 'admin';
  const [list, setList] = useState<TemplateRec[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const load = () => {
    setError(null);
    loadAll<TemplateRec>('/api/v1/scorecards/templates').then(setList, setError);
  };
  useEffect(load, []);
  if (error && !list) return <ErrorBox error={error} onRetry={load} />;
  if (!list) return <Loading />;
  return (
    <section class="card" id="sc-templates">
      <header class="card-head">
        <h2>{tu('sct.title')}</h2>
        {admin && (
          <Link href="/app/admin/scorecards/new" class="button-link" id="sct-new">
            {tu('sct.new')}
          </Link>
        )}
      </header>
      <p class="muted">{tu('sct.intro')}</p>
      {list.length === 0 ? (
        <p class="empty muted" id="sct-empty">
          {tu('sct.empty')}
        </p>
      ) : (
        <div class="table-wrap">
          <table class="list" id="sct-list">
            <thead>
              <tr>
                <th scope="col">{tu('sct.name')}</th>
                <th scope="col">{tu('sct.titleCol')}</th>
                <th scope="col">{tu('sct.role')}</th>
                <th scope="col">{tu('sct.period')}</th>
                <th scope="col">{tu('sct.items')}</th>
                <th scope="col">{tu('sct.auto')}</th>
                <th scope="col">{tu('sct.version')}</th>
                <th scope="col" class="wide">{tu('sct.updated')}</th>
              </tr>
            </thead>
            <tbody>
              {list.map((r) => (
                <tr key={r.id} data-template={r.name}>
                  <td class="mono">
                    <Link href={`/app/admin/scorecards/${r.id}`}>{r.name}</Link>
                  </td>
                  <td>{bi(r.title)}</td>
                  <td>
                    {tu(`user.role.${r.role}` as UKey)}
                    {r.scope === 'team' && <span class="tag">{tu('sct.scope.team')}</span>}
                  </td>
                  <td>{tu(`sct.period.${r.period}` as UKey)}</td>
                  <td>
                    {r.items.map((it) => (
                      <span class={`tag${it.critical ? ' critical' : ''}`} key={it.key} title={it.indicator}>
                        {bi(it.label) || it.key} ×{it.weight ?? 1}
                        {it.critical ? ' !' : ''}
                      </span>
                    ))}
                  </td>
                  <td>{r.auto ? tu('sct.yes') : <span class="muted">{tu('sct.no')}</span>}</td>
                  <td>{r.version}</td>
                  <td class="wide">{formatTime(r.updated_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {!admin && <p class="muted">{tu('admin.adminOnly')}</p>}
    </section>
  );
}

export function ScorecardTemplateEditor(props: { id: string }) {
  const isNew = props.id === 'new';
  const s = useSession();
  const admin = s?.user.role === 'admin';
  const [rec, setRec] = useState<TemplateRec | null>(null);
  const [etag, setEtag] = useState<string | null>(null);
  const [doc, setDoc] = useState<TemplateDoc | null>(isNew ? starter() : null);
  const [inds, setInds] = useState<Indicator[]>([]);
  const [procs, setProcs] = useState<ProcLite[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [notice, setNotice] = useState<UNotice>(null);
  const [conflict, setConflict] = useState<TemplateRec | null>(null);
  const [busy, setBusy] = useState(false);
  const [dirty, setDirty] = useState(false);

  const load = async () => {
    setError(null);
    try {
      const r = await api<TemplateRec>('GET', `/api/v1/scorecards/templates/${props.id}`);
      setRec(r.data);
      setEtag(r.etag);
      setDoc(docOf(r.data));
      setDirty(false);
      setConflict(null);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    if (!isNew) void load();
    api<{ items: Indicator[] }>('GET', '/api/v1/scorecards/indicators').then((r) => setInds(r.data.items), () => undefined);
    loadAll<ProcLite>('/api/v1/processes').then(setProcs, () => undefined);
  }, [props.id]);

  if (error && !doc) return <ErrorBox error={error} onRetry={() => void load()} />;
  if (!doc) return <Loading />;
  const indBy = new Map(inds.map((i) => [i.name, i]));
  const ro = !admin;

  const change = (fn: (d: TemplateDoc) => void) => {
    const d = structuredClone(doc);
    fn(d);
    setDoc(d);
    setDirty(true);
  };
  const clearErr = (p: string) => {
    if (!errors[p]) return;
    const e = { ...errors };
    delete e[p];
    setErrors(e);
  };
  const num = (v: string): number | undefined => (v.trim() === '' ? undefined : Number(v));

  const save = async (force?: string | null) => {
    setBusy(true);
    setErrors({});
    setNotice(null);
    setError(null);
    try {
      if (isNew) {
        const r = await api<TemplateRec>('POST', '/api/v1/scorecards/templates', cleanDoc(doc));
        navigate(`/app/admin/scorecards/${r.data.id}`);
        return;
      }
      const r = await api<TemplateRec>('PUT', `/api/v1/scorecards/templates/${props.id}`, cleanDoc(doc), { ifMatch: force ?? etag });
      setRec(r.data);
      setEtag(r.etag);
      setDoc(docOf(r.data));
      setDirty(false);
      setConflict(null);
      setNotice(['sct.savedVersion', { v: r.data.version }]);
    } catch (x) {
      if (x instanceof ApiError && x.status === 412) {
        // Someone saved meanwhile: keep the admin's edits, show what is on the server.
        try {
          const cur = await api<TemplateRec>('GET', `/api/v1/scorecards/templates/${props.id}`);
          setConflict(cur.data);
          setEtag(cur.etag);
        } catch (y) {
          setError(y);
        }
      } else if (x instanceof ApiError && x.status === 409) {
        setErrors({ '/name': x.message });
        scrollToError();
      } else {
        const fe = fieldErrors(x);
        setErrors(fe);
        if (Object.keys(fe).length) scrollToError();
        else setError(x);
      }
    } finally {
      setBusy(false);
    }
  };

  const archive = async () => {
    if (!rec || !confirm(tu('sct.confirmDelete', { name: rec.name }))) return;
    setError(null);
    try {
      await api('DELETE', `/api/v1/scorecards/templates/${rec.id}`, undefined, { ifMatch: etag });
      navigate('/app/admin/scorecards');
    } catch (x) {
      if (x instanceof ApiError && x.status === 412) {
        setNotice(['admin.stale']);
        void load();
      } else setError(x);
    }
  };

  const top = ['/name', '/title', '/title/en', '/title/zh', '/role', '/period', '/scope', '/auto', '/items'];
  const shown = (p: string) => top.includes(p) || /^\/items\/\d+(\/(key|indicator|weight|floor|target|direction|critical|filter|filter\/process|filter\/step|filter\/channel|label|label\/en|label\/zh))?$/.test(p);
  const totalWeight = doc.items.reduce((a, it) => a + (Number(it.weight ?? 1) || 0), 0);

  return (
    <div class="admin-body sct-editor">
      <p>
        <Link href="/app/admin/scorecards">← {tu('sct.title')}</Link>
      </p>
      {notice && (
        <p class="notice ok" role="status" id="sct-notice">
          {tu(notice[0], notice[1])}
        </p>
      )}
      {conflict && (
        <div class="notice conflict" role="alert" id="sct-conflict">
          <p>
            <strong>{tu('sct.conflict', { v: conflict.version, at: formatTime(conflict.updated_at) })}</strong>
          </p>
          <p>{tu('sct.conflictHelp')}</p>
          <div class="actions">
            <button type="button" id="sct-take-theirs" onClick={() => void load()}>
              {tu('sct.takeTheirs', { v: conflict.version })}
            </button>
            <button type="button" class="danger" id="sct-overwrite" onClick={() => void save(etag)}>
              {tu('sct.overwrite')}
            </button>
          </div>
        </div>
      )}
      {error !== null && <ErrorBox error={error} />}
      <form
        class="card admin-form"
        id="sct-form"
        onSubmit={(e) => {
          e.preventDefault();
          void save();
        }}
      >
        <header class="card-head">
          <h2>{isNew ? tu('sct.new') : doc.name}</h2>
          {rec && <span class="muted">{tu('sct.versionOf', { v: rec.version, at: formatTime(rec.updated_at) })}</span>}
        </header>
        <fieldset disabled={ro} class="plain">
          <div class="form-grid">
            <label>
              {tu('sct.name')}
              <input id="sct-name" class="mono" value={doc.name} required maxLength={64} pattern="[a-z0-9._\-]+" onInput={(e) => (clearErr('/name'), change((d) => void (d.name = e.currentTarget.value)))} />
              <small class="muted">{tu('sct.nameHelp')}</small>
              <FieldError errors={errors} at="/name" />
            </label>
            <label>
              {tu('sct.titleEn')}
              <input id="sct-title-en" value={doc.title?.en ?? ''} onInput={(e) => change((d) => void (d.title = { ...d.title, en: e.currentTarget.value }))} />
              <FieldError errors={errors} at="/title" />
              <FieldError errors={errors} at="/title/en" />
            </label>
            <label>
              {tu('sct.titleZh')}
              <input id="sct-title-zh" lang="zh-CN" value={doc.title?.zh ?? ''} onInput={(e) => change((d) => void (d.title = { ...d.title, zh: e.currentTarget.value }))} />
              <FieldError errors={errors} at="/title/zh" />
            </label>
            <label>
              {tu('sct.role')}
              <select id="sct-role" value={doc.role} onChange={(e) => change((d) => void (d.role = e.currentTarget.value))}>
                {ROLES.map((r) => (
                  <option key={r} value={r}>
                    {tu(`user.role.${r}` as UKey)}
                  </option>
                ))}
              </select>
              <small class="muted">{tu('sct.roleHelp')}</small>
              <FieldError errors={errors} at="/role" />
            </label>
            <label>
              {tu('sct.scope')}
              <select id="sct-scope" value={doc.scope ?? 'person'} onChange={(e) => change((d) => void (d.scope = e.currentTarget.value))}>
                <option value="person">{tu('sct.scope.person')}</option>
                <option value="team">{tu('sct.scope.team')}</option>
              </select>
              <FieldError errors={errors} at="/scope" />
            </label>
            <label>
              {tu('sct.period')}
              <select id="sct-period" value={doc.period} onChange={(e) => change((d) => void (d.period = e.currentTarget.value))}>
                {PERIODS.map((p) => (
                  <option key={p} value={p}>
                    {tu(`sct.period.${p}` as UKey)}
                  </option>
                ))}
              </select>
              <FieldError errors={errors} at="/period" />
            </label>
            <label class="check">
              <input type="checkbox" id="sct-auto" checked={doc.auto !== false} onChange={(e) => change((d) => void (d.auto = e.currentTarget.checked))} />
              {tu('sct.autoHelp')}
              <FieldError errors={errors} at="/auto" />
            </label>
          </div>

          <h3>{tu('sct.items')}</h3>
          <p class="muted small">{tu('sct.itemsHelp')}</p>
          <FieldError errors={errors} at="/items" />
          {doc.items.length === 0 && <p class="muted">{tu('sct.noItems')}</p>}
          <ol class="sct-items">
            {doc.items.map((it, i) => {
              const ind = indBy.get(it.indicator);
              const unit = ind?.unit;
              const dir = it.direction ?? ind?.direction ?? 'higher';
              const share = totalWeight > 0 ? Math.round(((Number(it.weight ?? 1) || 0) / totalWeight) * 1000) / 10 : 0;
              const p = `/items/${i}`;
              const proc = procs.find((x) => String(x.id) === String(it.filter?.process ?? '') || x.name === it.filter?.process);
              const steps = proc?.draft?.steps?.map((x) => x.key) ?? [];
              const setIt = (fn: (x: Item) => void) => change((d) => fn(d.items[i]!));
              return (
                <li class={`sct-item card${it.critical ? ' critical' : ''}`} key={i} data-item={i}>
                  <div class="form-grid">
                    <label>
                      {tu('sct.key')}
                      <input class="mono item-key" value={it.key} onInput={(e) => (clearErr(`${p}/key`), setIt((x) => void (x.key = e.currentTarget.value)))} />
                      <FieldError errors={errors} at={`${p}/key`} />
                    </label>
                    <label>
                      {tu('sct.indicator')}
                      <select class="item-indicator" value={it.indicator} onChange={(e) => setIt((x) => void (x.indicator = e.currentTarget.value))}>
                        {!indBy.has(it.indicator) && <option value={it.indicator}>{it.indicator}</option>}
                        {inds.map((x) => (
                          <option key={x.name} value={x.name}>
                            {bi(x.label)} ({x.name})
                          </option>
                        ))}
                      </select>
                      {ind && <small class="muted">{tu('sct.unitDir', { unit: tu(`sct.unit.${ind.unit || 'count'}` as UKey), dir: tu(`sct.dir.${ind.direction}` as UKey) })}</small>}
                      <FieldError errors={errors} at={`${p}/indicator`} />
                    </label>
                    <label>
                      {tu('sct.labelEn')}
                      <input class="item-label-en" value={it.label?.en ?? ''} placeholder={ind?.label.en ?? ''} onInput={(e) => setIt((x) => void (x.label = { ...x.label, en: e.currentTarget.value }))} />
                      <FieldError errors={errors} at={`${p}/label`} />
                      <FieldError errors={errors} at={`${p}/label/en`} />
                    </label>
                    <label>
                      {tu('sct.labelZh')}
                      <input class="item-label-zh" lang="zh-CN" value={it.label?.zh ?? ''} placeholder={ind?.label.zh ?? ''} onInput={(e) => setIt((x) => void (x.label = { ...x.label, zh: e.currentTarget.value }))} />
                      <FieldError errors={errors} at={`${p}/label/zh`} />
                    </label>
                  </div>
                  <fieldset class="plain">
                    <legend>{tu('sct.filter')}</legend>
                    <div class="form-grid">
                      <label>
                        {tu('sct.process')}
                        <select class="item-process" value={proc ? String(proc.id) : String(it.filter?.process ?? '')} onChange={(e) => setIt((x) => void (x.filter = { ...x.filter, process: e.currentTarget.value === '' ? undefined : Number(e.currentTarget.value) }))}>
                          <option value="">{tu('sct.any')}</option>
                          {procs.map((x) => (
                            <option key={x.id} value={String(x.id)}>
                              {x.name}
                            </option>
                          ))}
                        </select>
                        <FieldError errors={errors} at={`${p}/filter/process`} />
                      </label>
                      <label>
                        {tu('sct.step')}
                        <input class="mono item-step" list={`sct-steps-${i}`} value={it.filter?.step ?? ''} placeholder={tu('sct.any')} onInput={(e) => setIt((x) => void (x.filter = { ...x.filter, step: e.currentTarget.value }))} />
                        <datalist id={`sct-steps-${i}`}>
                          {steps.map((k) => (
                            <option key={k} value={k} />
                          ))}
                        </datalist>
                        <FieldError errors={errors} at={`${p}/filter/step`} />
                      </label>
                      <label>
                        {tu('sct.channel')}
                        <select class="item-channel" value={it.filter?.channel ?? ''} onChange={(e) => setIt((x) => void (x.filter = { ...x.filter, channel: e.currentTarget.value }))}>
                          <option value="">{tu('sct.any')}</option>
                          {CHANNELS.map((c) => (
                            <option key={c} value={c}>
                              {tu(`sct.channel.${c}` as UKey)}
                            </option>
                          ))}
                        </select>
                        <FieldError errors={errors} at={`${p}/filter/channel`} />
                      </label>
                    </div>
                    <FieldError errors={errors} at={`${p}/filter`} />
                  </fieldset>
                  <div class="form-grid">
                    <label>
                      {tu('sct.weight')}
                      <input class="item-weight" type="number" step="any" min="0" max="1000" value={it.weight ?? ''} onInput={(e) => (clearErr(`${p}/weight`), setIt((x) => void (x.weight = num(e.currentTarget.value))))} />
                      <small class="muted">{tu('sct.share', { pct: share })}</small>
                      <FieldError errors={errors} at={`${p}/weight`} />
                    </label>
                    <label>
                      {tu('sct.floor')}
                      <input class="item-floor" type="number" step="any" value={it.floor ?? ''} onInput={(e) => (clearErr(`${p}/floor`), setIt((x) => void (x.floor = num(e.currentTarget.value))))} />
                      <small class="muted">{fmtUnit(unit, it.floor)} · {tu('sct.floorHelp')}</small>
                      <FieldError errors={errors} at={`${p}/floor`} />
                    </label>
                    <label>
                      {tu('sct.target')}
                      <input class="item-target" type="number" step="any" value={it.target ?? ''} onInput={(e) => (clearErr(`${p}/target`), setIt((x) => void (x.target = num(e.currentTarget.value))))} />
                      <small class="muted">{fmtUnit(unit, it.target)} · {tu('sct.targetHelp')}</small>
                      <FieldError errors={errors} at={`${p}/target`} />
                    </label>
                    <label>
                      {tu('sct.direction')}
                      <select class="item-direction" value={it.direction ?? ''} onChange={(e) => setIt((x) => void (x.direction = (e.currentTarget.value || undefined) as Item['direction']))}>
                        <option value="">{tu('sct.dirDefault', { dir: tu(`sct.dir.${ind?.direction ?? 'higher'}` as UKey) })}</option>
                        <option value="higher">{tu('sct.dir.higher')}</option>
                        <option value="lower">{tu('sct.dir.lower')}</option>
                      </select>
                      <FieldError errors={errors} at={`${p}/direction`} />
                    </label>
                    <label class="check">
                      <input type="checkbox" class="item-critical" checked={!!it.critical} onChange={(e) => setIt((x) => void (x.critical = e.currentTarget.checked))} />
                      {tu('sct.critical')}
                      <FieldError errors={errors} at={`${p}/critical`} />
                    </label>
                  </div>
                  <p class="muted small sct-formula">
                    {tu(dir === 'lower' ? 'sct.formulaLower' : 'sct.formulaHigher', { floor: fmtUnit(unit, it.floor) || '?', target: fmtUnit(unit, it.target) || '?' })}
                    {it.critical ? ` ${tu('sct.criticalHelp')}` : ''}
                  </p>
                  <FieldError errors={errors} at={p} />
                  {!ro && (
                    <div class="actions">
                      <button type="button" class="small" disabled={i === 0} onClick={() => change((d) => void d.items.splice(i - 1, 0, d.items.splice(i, 1)[0]!))} aria-label={`${tu('sct.up')} ${it.key}`}>
                        ↑
                      </button>
                      <button type="button" class="small" disabled={i === doc.items.length - 1} onClick={() => change((d) => void d.items.splice(i + 1, 0, d.items.splice(i, 1)[0]!))} aria-label={`${tu('sct.down')} ${it.key}`}>
                        ↓
                      </button>
                      <button type="button" class="small danger item-remove" onClick={() => change((d) => void d.items.splice(i, 1))}>
                        {tu('admin.remove')}
                      </button>
                    </div>
                  )}
                </li>
              );
            })}
          </ol>
          {!ro && (
            <button
              type="button"
              id="sct-add-item"
              onClick={() =>
                change((d) => {
                  let n = d.items.length + 1;
                  while (d.items.some((x) => x.key === `i${n}`)) n++;
                  d.items.push(blankItem(n, inds[0]));
                })
              }
            >
              {tu('sct.addItem')}
            </button>
          )}
        </fieldset>
        <OtherErrors errors={errors} shown={shown} />
        {Object.keys(errors).length > 0 && (
          <p class="field-error" role="status">
            {tu('admin.invalid')}
          </p>
        )}
        {!ro && (
          <div class="actions">
            <button type="submit" class="primary" id="sct-save" disabled={busy}>
              {isNew ? tu('admin.create') : tu('sct.save')}
            </button>
            {dirty && !isNew && <span class="muted">{tu('sct.unsaved')}</span>}
            {rec && (
              <button type="button" class="danger" id="sct-delete" onClick={() => void archive()}>
                {tu('sct.delete')}
              </button>
            )}
          </div>
        )}
      </form>
      <Preview doc={doc} rec={rec} dirty={dirty} onFieldErrors={setErrors} />
      {rec && admin && (
        <History
          entity="score_template"
          id={rec.id}
          tick={rec.version}
          current={rec.version}
          onRestore={(after, v) => {
            setDoc(docOf(after as TemplateRec));
            setDirty(true);
            setErrors({});
            setNotice(['hist.restored', { v: v ?? '' }]);
            window.scrollTo({ top: 0, behavior: 'smooth' });
          }}
        />
      )}
    </div>
  );
}

interface PreviewItem {
  key: string;
  label?: Bi;
  value: number | null;
  points: number | null;
  status: string;
  below_floor?: boolean;
}
interface PreviewPerson {
  user: { id: number; username: string; display_name: string };
  team: string | null;
  status: string;
  score: number | null;
  reason: string | null;
  reason_zh: string | null;
  rank: { role: number | null; role_size: number; team: number | null; team_size: number };
  items: PreviewItem[];
}
interface PreviewRes {
  period: string;
  from: string;
  to: string;
  truncated: boolean;
  people: PreviewPerson[];
}

/**
 * What the template in the editor (saved or not) would score for a period, per person and
 * item: POST /api/v1/scorecards/preview, computed by the server and rolled back. Beside it,
 * for a saved template, the score its stored evaluation of that period has now.
 */
function Preview(props: { doc: TemplateDoc; rec: TemplateRec | null; dirty: boolean; onFieldErrors: (e: Record<string, string>) => void }) {
  const { doc, rec } = props;
  const [period, setPeriod] = useState(() => lastEndedPeriod(doc.period));
  const [res, setRes] = useState<PreviewRes | null>(null);
  const [now, setNow] = useState<Map<string, number | null>>(new Map());
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [perr, setPerr] = useState<Record<string, string>>({});
  useEffect(() => setPeriod(lastEndedPeriod(doc.period)), [doc.period]);
  const run = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setPerr({});
    props.onFieldErrors({});
    try {
      const r = await api<PreviewRes>('POST', `/api/v1/scorecards/preview?period=${encodeURIComponent(period)}`, cleanDoc(doc));
      const m = new Map<string, number | null>();
      if (rec) {
        const ev = await loadAll<{ user: { username: string }; score: number | null }>(`/api/v1/evaluations?template=${rec.id}&period=${encodeURIComponent(r.data.period)}`);
        for (const x of ev) m.set(x.user.username, x.score);
      }
      setNow(m);
      setRes(r.data);
    } catch (x) {
      const fe = fieldErrors(x);
      const mine: Record<string, string> = {};
      const theirs: Record<string, string> = {};
      for (const [k, v] of Object.entries(fe)) (k === '/query/period' ? mine : theirs)[k] = v;
      setPerr(mine);
      if (Object.keys(theirs).length) {
        // The document's problems belong beside the editor's fields.
        props.onFieldErrors(theirs);
        scrollToError();
      }
      if (!Object.keys(fe).length) setError(x);
      setRes(null);
    } finally {
      setBusy(false);
    }
  };
  const fmt = (v: number | null | undefined) => (v === null || v === undefined ? '—' : v.toFixed(2));
  const keys = res?.people[0]?.items.map((i) => i.key) ?? doc.items.map((i) => i.key);
  const itemLabel = (k: string) => {
    const it = doc.items.find((x) => x.key === k);
    return bi(it?.label) || k;
  };
  return (
    <section class="card" id="sct-preview">
      <h2>{tu('sct.preview')}</h2>
      <p class="muted small">{tu('sct.previewHelp')}</p>
      <form class="inline-form admin-form" onSubmit={run}>
        <label>
          {tu('sct.previewPeriod')}
          <input id="sct-preview-period" class="mono" value={period} onInput={(e) => setPeriod(e.currentTarget.value)} placeholder="2026-11 · 2026-W47 · 2026-Q4" />
          <FieldError errors={perr} at="/query/period" />
        </label>
        <button type="submit" id="sct-preview-run" disabled={busy}>
          {tu('sct.previewRun')}
        </button>
        {rec && (
          <Link href={`/app/scorecards?template=${encodeURIComponent(rec.name)}&period=${encodeURIComponent(period)}`}>{tu('sct.openRanking')}</Link>
        )}
      </form>
      {error !== null && <ErrorBox error={error} />}
      {busy && <Loading />}
      {res && (
        <div id="sct-preview-result">
          <p>
            {tu('sct.previewSummary', { from: res.from, to: res.to, n: res.people.length, scored: res.people.filter((x) => x.status !== 'no_data').length })}
            {props.dirty && <span class="tag">{tu('sct.previewUnsaved')}</span>}
          </p>
          {res.truncated && <p class="notice">{tu('sct.previewTruncated')}</p>}
          {res.people.length === 0 ? (
            <p class="muted">{tu('sct.previewNobody')}</p>
          ) : (
            <div class="table-wrap">
              <table class="list">
                <thead>
                  <tr>
                    <th scope="col">{tu('sct.person')}</th>
                    <th scope="col">{tu('sct.team')}</th>
                    {keys.map((k) => (
                      <th scope="col" class="num" key={k}>
                        {itemLabel(k)}
                      </th>
                    ))}
                    <th scope="col" class="num">{tu('sct.after')}</th>
                    {rec && <th scope="col" class="num">{tu('sct.before')}</th>}
                    {rec && <th scope="col" class="num">{tu('sct.change')}</th>}
                    <th scope="col" class="num">{tu('sct.rank')}</th>
                    <th scope="col">{tu('sct.status')}</th>
                  </tr>
                </thead>
                <tbody>
                  {res.people.map((c) => {
                    const u = c.user.username;
                    const b = now.has(u) ? now.get(u)! : null;
                    const ch = b !== null && c.score !== null ? c.score - b : null;
                    return (
                      <tr key={u} data-person={u} class={c.status === 'zeroed' ? 'zeroed' : ''}>
                        <td>
                          <span class="mono">{u}</span>
                          {c.user.display_name && <span class="muted small"> {c.user.display_name}</span>}
                        </td>
                        <td>{c.team ?? ''}</td>
                        {keys.map((k) => {
                          const it = c.items.find((x) => x.key === k);
                          return (
                            <td class={`num item-points${it?.below_floor ? ' danger-text' : ''}`} key={k} data-item={k} title={it && it.value !== null ? String(it.value) : ''}>
                              {it && it.points !== null ? it.points.toFixed(0) : <span class="muted">{tu('sct.noData')}</span>}
                            </td>
                          );
                        })}
                        <td class="num after">
                          <strong>{fmt(c.score)}</strong>
                        </td>
                        {rec && <td class="num before">{now.has(u) ? fmt(b) : <span class="muted">—</span>}</td>}
                        {rec && <td class="num">{ch === null ? '' : `${ch > 0 ? '+' : ''}${ch.toFixed(2)}`}</td>}
                        <td class="num">{c.rank.role ?? '—'}</td>
                        <td>
                          {tu(`sct.status.${c.status}` as UKey)}
                          {c.status === 'zeroed' && <div class="small danger-text">{locale() === 'zh-CN' ? c.reason_zh : c.reason}</div>}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
        </div>
      )}
    </section>
  );
}
