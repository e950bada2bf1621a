// Webhooks (admins): the subscriptions, a form to create one (its signing secret is shown
// once), and per subscription an editor (URL, description, event-type patterns, extra
// headers, active), rotate-secret, ping, delete, and the delivery log — status, tries,
// last response code, next retry; a delivery opens its attempts (latency, status code,
// error, response body), the payload as it was sent and a redeliver button.
// GET/POST /api/v1/webhooks, GET/PATCH/DELETE /api/v1/webhooks/{id} (If-Match),
// POST …/rotate-secret, POST …/ping, GET …/deliveries, GET …/deliveries/{d},
// POST …/deliveries/{d}/redeliver; the payload's event is GET /api/v1/events/{id}.
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, fieldErrors } from '../../api';
import { ErrorBox, Link, Loading } from '../../components/common';
import { formatTime } from '../../i18n';
import { tu, type UKey, type UNotice } from '../../i18n/uiadmin';
import type { MessageKey } from '../../i18n';
import { navigate } from '../../router';
import { useSession } from '../../session';
import { FieldError, OtherErrors, scrollToError } from './Admin';
import { loadAll } from './Users';
import { History } from './History';

export interface HookRec {
  id: number;
  url: string;
  description: string;
  event_types: string[];
  active: boolean;
  version: number;
  secret_hint: string;
  previous_secret_expires_at: string | null;
  created_at: string;
  updated_at: string;
  headers: Record<string, string>;
  stats?: { pending: number; failed: number; last_delivered_at: string | null };
  secret?: string;
}
interface Delivery {
  id: number;
  webhook_id: number;
  event_id: number | null;
  event_type: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  tries: number;
  next_attempt_at: string | null;
  created_at: string;
  updated_at: string;
  delivered_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  attempt_log?: { id: number; started_at: string; duration_ms: number; status_code: number | null; error: string | null; response: string }[];
}

/** Patterns offered while typing (any other exact type or custom.<name> is accepted too). */
const SUGGEST = [
  '*', 'case.*', 'sla.*', 'call.*', 'email.*', 'visit.*', 'survey.*', 'agent.*', 'custom.*',
  'case.opened', 'case.assigned', 'case.replied', 'case.pending', 'case.resolved', 'case.reopened', 'case.closed',
  'sla.warning', 'sla.breached', 'survey.answered', 'visit.arrived', 'email.received', 'call.abandoned',
];
const KEEP = [0, 3600, 86400, 604800];

function statusTag(st: string) {
  return <span class={`tag dl-${st}`}>{tu(`wh.status.${st}` as UKey)}</span>;
}

/** The secret card: shown once after create or rotate, with a copy button. */
function SecretOnce(props: { secret: string; onClose: () => void }) {
  const [copied, setCopied] = useState(false);
  return (
    <div class="card secret" role="status" id="wh-secret">
      <p>
        <strong>{tu('wh.secretOnce')}</strong>
      </p>
      <p class="secret-line">
        <code id="wh-secret-value">{props.secret}</code>
        <button type="button" class="small" onClick={() => void navigator.clipboard?.writeText(props.secret).then(() => setCopied(true), () => setCopied(false))}>
          {tu('tokens.copy')}
        </button>
        {copied && <span class="muted">{tu('tokens.copied')}</span>}
        <button type="button" class="small" onClick={props.onClose}>
          {tu('common.close')}
        </button>
      </p>
      <p class="muted small">{tu('wh.secretHelp')}</p>
    </div>
  );
}

interface HookForm {
  url: string;
  description: string;
  types: string[];
  headers: [string, string][];
  headersTouched: boolean;
  active: boolean;
}

function formOf(h: HookRec | null): HookForm {
  return {
    url: h?.url ?? '',
    description: h?.description ?? '',
    types: h ? [...h.event_types] : ['case.*'],
    headers: h ? Object.keys(h.headers ?? {}).map((k) => [k, ''] as [string, string]) : [],
    headersTouched: false,
    active: h?.active ?? true,
  };
}

/** The request body of a form; on PATCH, headers only when the admin changed them. */
function bodyOf(f: HookForm, create: boolean): Record<string, unknown> {
  const b: Record<string, unknown> = { url: f.url.trim(), description: f.description, event_types: f.types.map((x) => x.trim()) };
  if (create || f.headersTouched) b.headers = Object.fromEntries(f.headers.filter(([k]) => k.trim()).map(([k, v]) => [k.trim(), v]));
  if (create) b.active = f.active;
  return b;
}

/** URL, description, event types (one row each, so "/event_types/2" lands beside row 2), headers. */
function HookFields(props: { form: HookForm; set: (f: HookForm) => void; errors: Record<string, string>; editing: boolean }) {
  const { form, set, errors } = props;
  const upd = (fn: (f: HookForm) => void) => {
    const f = structuredClone(form);
    fn(f);
    set(f);
  };
  return (
    <>
      <div class="form-grid">
        <label class="span2">
          {tu('wh.url')}
          <input id="wh-url" class="mono" type="text" inputMode="url" required value={form.url} placeholder="https://erp.example.cn/smile/hook" onInput={(e) => upd((f) => void (f.url = e.currentTarget.value))} />
          <FieldError errors={errors} at="/url" />
        </label>
        <label class="span2">
          {tu('wh.description')}
          <input id="wh-description" value={form.description} maxLength={500} onInput={(e) => upd((f) => void (f.description = e.currentTarget.value))} />
          <FieldError errors={errors} at="/description" />
        </label>
      </div>
      <fieldset class="plain wh-types">
        <legend>{tu('wh.eventTypes')}</legend>
        <p class="muted small">{tu('wh.eventTypesHelp')}</p>
        <datalist id="wh-type-suggest">
          {SUGGEST.map((x) => (
            <option key={x} value={x} />
          ))}
        </datalist>
        {form.types.map((x, i) => (
          <div class="wh-type-row" key={i}>
            <input class="mono wh-type" list="wh-type-suggest" value={x} aria-label={`${tu('wh.eventTypes')} ${i + 1}`} onInput={(e) => upd((f) => void (f.types[i] = e.currentTarget.value))} />
            <button type="button" class="small" onClick={() => upd((f) => void f.types.splice(i, 1))} aria-label={`${tu('admin.remove')} ${x}`}>
              ×
            </button>
            <FieldError errors={errors} at={`/event_types/${i}`} />
          </div>
        ))}
        <div class="wh-type-add">
          <button type="button" class="small" id="wh-add-type" onClick={() => upd((f) => void f.types.push(''))}>
            {tu('wh.addType')}
          </button>
          {['*', 'case.*', 'sla.breached', 'sla.warning'].map((x) => (
            <button type="button" class="small chip" key={x} disabled={form.types.includes(x)} onClick={() => upd((f) => void (f.types = [...f.types.filter((y) => y.trim()), x]))}>
              + {x}
            </button>
          ))}
        </div>
        <FieldError errors={errors} at="/event_types" />
      </fieldset>
      <fieldset class="plain wh-headers">
        <legend>{tu('wh.headers')}</legend>
        <p class="muted small">{props.editing ? tu('wh.headersEditHelp') : tu('wh.headersHelp')}</p>
        {form.headers.map(([k, v], i) => (
          <div class="wh-type-row" key={i}>
            <input class="mono" placeholder="Authorization" value={k} aria-label={tu('wh.headerName')} onInput={(e) => upd((f) => void ((f.headers[i]![0] = e.currentTarget.value), (f.headersTouched = true)))} />
            <input class="mono" placeholder={props.editing && !form.headersTouched ? '***' : 'Bearer …'} value={v} aria-label={tu('wh.headerValue')} onInput={(e) => upd((f) => void ((f.headers[i]![1] = e.currentTarget.value), (f.headersTouched = true)))} />
            <button type="button" class="small" onClick={() => upd((f) => void (f.headers.splice(i, 1), (f.headersTouched = true)))} aria-label={`${tu('admin.remove')} ${k}`}>
              ×
            </button>
            <FieldError errors={errors} at={`/headers/${k.trim()}`} />
          </div>
        ))}
        <button type="button" class="small" onClick={() => upd((f) => void (f.headers.push(['', '']), (f.headersTouched = true)))}>
          {tu('wh.addHeader')}
        </button>
        <FieldError errors={errors} at="/headers" />
      </fieldset>
    </>
  );
}

function hookShown(form: HookForm) {
  return (p: string) =>
    ['/url', '/description', '/event_types', '/headers', '/active'].includes(p) ||
    /^\/event_types\/\d+$/.test(p) ||
    form.headers.some(([k]) => p === `/headers/${k.trim()}`);
}

export function Webhooks() {
  const s = useSession();
  const admin = s?.user.role === 'admin';
  const [list, setList] = useState<HookRec[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const [form, setForm] = useState<HookForm>(formOf(null));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [ferror, setFerror] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const load = () => {
    setError(null);
    loadAll<HookRec>('/api/v1/webhooks').then(setList, setError);
  };
  useEffect(() => {
    if (admin) load();
  }, []);
  if (!admin) return <p class="muted">{tu('admin.adminOnly')}</p>;
  if (error && !list) return <ErrorBox error={error} onRetry={load} />;
  if (!list) return <Loading />;

  const create = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    setFerror(null);
    setBusy(true);
    try {
      const r = await api<HookRec>('POST', '/api/v1/webhooks', bodyOf(form, true));
      setSecret(r.data.secret ?? null);
      setForm(formOf(null));
      load();
    } catch (x) {
      const fe = fieldErrors(x);
      setErrors(fe);
      if (Object.keys(fe).length) scrollToError();
      else setFerror(x);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="admin-body">
      {secret && <SecretOnce secret={secret} onClose={() => setSecret(null)} />}
      <section class="card" id="wh-list-card">
        <header class="card-head">
          <h2>{tu('wh.title')}</h2>
          <span class="muted">{tu('wh.count', { n: list.length })}</span>
        </header>
        {list.length === 0 ? (
          <p class="empty muted" id="wh-empty">
            {tu('wh.empty')}
          </p>
        ) : (
          <div class="table-wrap">
            <table class="list" id="wh-list">
              <thead>
                <tr>
                  <th scope="col">{tu('wh.url')}</th>
                  <th scope="col">{tu('wh.eventTypes')}</th>
                  <th scope="col">{tu('wh.state')}</th>
                  <th scope="col" class="num">{tu('wh.pending')}</th>
                  <th scope="col" class="num">{tu('wh.failed')}</th>
                  <th scope="col" class="wide">{tu('wh.lastDelivered')}</th>
                </tr>
              </thead>
              <tbody>
                {list.map((h) => (
                  <tr key={h.id} data-webhook={h.id} class={h.active ? '' : 'disabled'}>
                    <td>
                      <Link href={`/app/admin/webhooks/${h.id}`} class="mono">
                        {h.url}
                      </Link>
                      {h.description && <div class="muted small">{h.description}</div>}
                    </td>
                    <td>
                      {h.event_types.map((x) => (
                        <span class="tag mono" key={x}>
                          {x}
                        </span>
                      ))}
                    </td>
                    <td>{h.active ? <span class="tag">{tu('wh.active')}</span> : <span class="tag off">{tu('wh.inactive')}</span>}</td>
                    <td class="num">{h.stats?.pending ?? 0}</td>
                    <td class={`num${h.stats?.failed ? ' danger-text' : ''}`}>{h.stats?.failed ?? 0}</td>
                    <td class="wide">{h.stats?.last_delivered_at ? formatTime(h.stats.last_delivered_at) : <span class="muted">{tu('tokens.never')}</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <form class="card admin-form" id="wh-new" onSubmit={create}>
        <h3>{tu('wh.new')}</h3>
        <HookFields form={form} set={setForm} errors={errors} editing={false} />
        <label class="check">
          <input type="checkbox" id="wh-active" checked={form.active} onChange={(e) => setForm({ ...form, active: e.currentTarget.checked })} />
          {tu('wh.activeHelp')}
        </label>
        <OtherErrors errors={errors} shown={hookShown(form)} />
        {ferror !== null && <ErrorBox error={ferror} />}
        <div class="actions">
          <button type="submit" class="primary" id="wh-create" disabled={busy}>
            {tu('admin.create')}
          </button>
        </div>
      </form>
    </div>
  );
}

export function WebhookEditor(props: { id: string }) {
  const s = useSession();
  const admin = s?.user.role === 'admin';
  const [hook, setHook] = useState<HookRec | null>(null);
  const [etag, setEtag] = useState<string | null>(null);
  const [form, setForm] = useState<HookForm>(formOf(null));
  const [error, setError] = useState<unknown>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [notice, setNotice] = useState<UNotice>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const [keep, setKeep] = useState(0);
  const [busy, setBusy] = useState(false);
  const [logTick, setLogTick] = useState(0);

  const load = async (resetForm = true) => {
    setError(null);
    try {
      const r = await api<HookRec>('GET', `/api/v1/webhooks/${props.id}`);
      setHook(r.data);
      setEtag(r.etag);
      if (resetForm) setForm(formOf(r.data));
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    if (admin) void load();
  }, [props.id]);
  // Only the counters: the record and its ETag stay as read, so a save still meets If-Match.
  const refreshStats = async () => {
    try {
      const r = await api<HookRec>('GET', `/api/v1/webhooks/${props.id}`);
      setHook((h) => (h ? { ...h, stats: r.data.stats } : h));
    } catch {
      /* the log shows its own error */
    }
  };

  if (!admin) return <p class="muted">{tu('admin.adminOnly')}</p>;
  if (error && !hook) return <ErrorBox error={error} onRetry={() => void load()} />;
  if (!hook) return <Loading />;

  /** A write with If-Match; a 412 reloads and says so, a 422 marks the fields. */
  const write = async (fn: () => Promise<void>) => {
    setBusy(true);
    setErrors({});
    setError(null);
    setNotice(null);
    try {
      await fn();
    } catch (x) {
      if (x instanceof ApiError && x.status === 412) {
        setNotice(['admin.stale']);
        await load();
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
  const patch = (body: Record<string, unknown>, msg: UKey | MessageKey) =>
    write(async () => {
      const r = await api<HookRec>('PATCH', `/api/v1/webhooks/${hook.id}`, body, { ifMatch: etag });
      setHook(r.data);
      setEtag(r.etag);
      setForm(formOf(r.data));
      setNotice([msg]);
    });
  const rotate = () =>
    write(async () => {
      if (!confirm(tu(keep ? 'wh.confirmRotateKeep' : 'wh.confirmRotate'))) return;
      const r = await api<HookRec>('POST', `/api/v1/webhooks/${hook.id}/rotate-secret`, { keep_previous_seconds: keep });
      setSecret(r.data.secret ?? null);
      await load(false);
    });
  const ping = () =>
    write(async () => {
      await api('POST', `/api/v1/webhooks/${hook.id}/ping`);
      setNotice(['wh.pinged']);
      setLogTick((n) => n + 1);
    });
  const remove = () =>
    write(async () => {
      if (!confirm(tu('wh.confirmDelete', { url: hook.url }))) return;
      await api('DELETE', `/api/v1/webhooks/${hook.id}`, undefined, { ifMatch: etag });
      navigate('/app/admin/webhooks');
    });

  return (
    <div class="admin-body wh-editor">
      <p>
        <Link href="/app/admin/webhooks">← {tu('wh.title')}</Link>
      </p>
      {secret && <SecretOnce secret={secret} onClose={() => setSecret(null)} />}
      {notice && (
        <p class="notice ok" role="status" id="wh-notice">
          {tu(notice[0], notice[1])}
        </p>
      )}
      {error !== null && <ErrorBox error={error} />}
      <section class="card">
        <header class="card-head">
          <h2 class="mono wh-title">{hook.url}</h2>
          <span>
            {hook.active ? <span class="tag" id="wh-state">{tu('wh.active')}</span> : <span class="tag off" id="wh-state">{tu('wh.inactive')}</span>}
            <span class="muted small">{tu('wh.versionOf', { v: hook.version, at: formatTime(hook.updated_at) })}</span>
          </span>
        </header>
        <dl class="facts">
          <dt>{tu('wh.secretHint')}</dt>
          <dd class="mono" id="wh-hint">
            {hook.secret_hint}
            {hook.previous_secret_expires_at && <span class="muted small"> · {tu('wh.previousUntil', { at: formatTime(hook.previous_secret_expires_at) })}</span>}
          </dd>
          <dt>{tu('wh.pending')}</dt>
          <dd>{hook.stats?.pending ?? 0}</dd>
          <dt>{tu('wh.failed')}</dt>
          <dd>{hook.stats?.failed ?? 0}</dd>
          <dt>{tu('wh.lastDelivered')}</dt>
          <dd id="wh-last">{hook.stats?.last_delivered_at ? formatTime(hook.stats.last_delivered_at) : tu('tokens.never')}</dd>
        </dl>
        <div class="actions wh-actions">
          <button type="button" id="wh-toggle" disabled={busy} onClick={() => void patch({ active: !hook.active }, hook.active ? 'wh.disabled' : 'wh.enabled')}>
            {hook.active ? tu('wh.disable') : tu('wh.enable')}
          </button>
          <button type="button" id="wh-ping" disabled={busy} onClick={() => void ping()} title={tu('wh.pingHelp')}>
            {tu('wh.ping')}
          </button>
          <label class="inline">
            <select id="wh-keep" value={String(keep)} onChange={(e) => setKeep(Number(e.currentTarget.value))} aria-label={tu('wh.keepPrevious')}>
              {KEEP.map((k) => (
                <option key={k} value={String(k)}>
                  {tu(`wh.keep.${k}` as UKey)}
                </option>
              ))}
            </select>
          </label>
          <button type="button" id="wh-rotate" disabled={busy} onClick={() => void rotate()}>
            {tu('wh.rotate')}
          </button>
          <button type="button" class="danger" id="wh-delete" disabled={busy} onClick={() => void remove()}>
            {tu('wh.delete')}
          </button>
        </div>
      </section>
      <DeliveryLog hook={hook} tick={logTick} onLoaded={() => void refreshStats()} />
      <form
        class="card admin-form"
        id="wh-edit"
        onSubmit={(e) => {
          e.preventDefault();
          void patch(bodyOf(form, false), 'admin.saved');
        }}
      >
        <h3>{tu('wh.edit')}</h3>
        <HookFields form={form} set={setForm} errors={errors} editing />
        <OtherErrors errors={errors} shown={hookShown(form)} />
        <div class="actions">
          <button type="submit" class="primary" id="wh-save" disabled={busy}>
            {tu('common.save')}
          </button>
        </div>
      </form>
      <History entity="webhook" id={hook.id} tick={`${hook.version} ${hook.secret_hint}`} />
    </div>
  );
}

/** The delivery log; each load also refreshes the subscription's stats (onLoaded). */
function DeliveryLog(props: { hook: HookRec; tick: number; onLoaded: () => void }) {
  const { hook } = props;
  const [status, setStatus] = useState('');
  const [rows, setRows] = useState<Delivery[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [open, setOpen] = useState<number | null>(null);
  const [tick, setTick] = useState(0);
  const url = (cursor?: string | null) => `/api/v1/webhooks/${hook.id}/deliveries?limit=50${status ? `&status=${status}` : ''}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
  const load = async () => {
    try {
      const r = await api<{ items: Delivery[]; next_cursor: string | null }>('GET', url());
      setRows(r.data.items);
      setNext(r.data.next_cursor);
      setError(null);
      props.onLoaded();
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => void load(), [status, props.tick, tick, hook.id]);
  // While something waits to be sent the log refreshes by itself every 3 s.
  useEffect(() => {
    const pending = rows?.some((d) => d.status === 'pending');
    if (!pending) return;
    const h = setInterval(() => setTick((n) => n + 1), 3000);
    return () => clearInterval(h);
  }, [rows]);
  const more = async () => {
    try {
      const r = await api<{ items: Delivery[]; next_cursor: string | null }>('GET', url(next));
      setRows([...(rows ?? []), ...r.data.items]);
      setNext(r.data.next_cursor);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <section class="card" id="wh-log">
      <header class="card-head">
        <h2>{tu('wh.log')}</h2>
        <span>
          <select id="wh-log-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)} aria-label={tu('wh.filterStatus')}>
            <option value="">{tu('wh.allStatuses')}</option>
            {['pending', 'delivered', 'failed'].map((x) => (
              <option key={x} value={x}>
                {tu(`wh.status.${x}` as UKey)}
              </option>
            ))}
          </select>
          <button type="button" class="small" id="wh-log-refresh" onClick={() => setTick((n) => n + 1)}>
            {tu('wh.refresh')}
          </button>
        </span>
      </header>
      {error !== null && <ErrorBox error={error} />}
      {!rows ? (
        <Loading />
      ) : rows.length === 0 ? (
        <p class="muted empty" id="wh-log-empty">
          {tu('wh.logEmpty')}
        </p>
      ) : (
        <div class="table-wrap">
          <table class="list" id="wh-deliveries">
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">{tu('wh.event')}</th>
                <th scope="col">{tu('wh.state')}</th>
                <th scope="col" class="num">{tu('wh.tries')}</th>
                <th scope="col">{tu('wh.response')}</th>
                <th scope="col">{tu('wh.nextRetry')}</th>
                <th scope="col" class="wide">{tu('wh.created')}</th>
                <th scope="col" />
              </tr>
            </thead>
            <tbody>
              {rows.map((d) => [
                <tr key={d.id} data-delivery={d.id} data-status={d.status} class={`delivery dl-row-${d.status}${open === d.id ? ' open' : ''}`}>
                  <td class="mono">{d.id}</td>
                  <td class="mono">
                    {d.event_type}
                    {d.event_id !== null && <span class="muted small"> #{d.event_id}</span>}
                  </td>
                  <td>{statusTag(d.status)}</td>
                  <td class="num" title={tu('wh.triesHelp')}>
                    {d.tries}
                    {d.attempts !== d.tries && <span class="muted small"> / {d.attempts}</span>}
                  </td>
                  <td class="mono small">
                    {d.last_status_code ?? ''}
                    {d.last_error && d.status !== 'delivered' && <span class="muted"> {d.last_error}</span>}
                  </td>
                  <td>{d.next_attempt_at ? formatTime(d.next_attempt_at) : d.delivered_at ? <span class="muted">{tu('wh.deliveredAt', { at: formatTime(d.delivered_at) })}</span> : '—'}</td>
                  <td class="wide">{formatTime(d.created_at)}</td>
                  <td>
                    <button type="button" class="small wh-open" aria-expanded={open === d.id} onClick={() => setOpen(open === d.id ? null : d.id)}>
                      {open === d.id ? tu('common.close') : tu('wh.details')}
                    </button>
                  </td>
                </tr>,
                open === d.id && (
                  <tr key={`${d.id}-detail`} class="delivery-detail">
                    <td colSpan={8}>
                      <DeliveryDetail hook={hook} id={d.id} stamp={`${d.status} ${d.updated_at} ${d.attempts}`} onRedelivered={() => setTick((n) => n + 1)} />
                    </td>
                  </tr>
                ),
              ])}
            </tbody>
          </table>
        </div>
      )}
      {next && (
        <button type="button" onClick={() => void more()}>
          {tu('common.loadMore')}
        </button>
      )}
    </section>
  );
}

/** One delivery's attempts and payload; reloaded when its row in the log changes (stamp). */
function DeliveryDetail(props: { hook: HookRec; id: number; stamp: string; onRedelivered: () => void }) {
  const [d, setD] = useState<Delivery | null>(null);
  const [payload, setPayload] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<UNotice>(null);
  const load = async () => {
    try {
      const r = await api<Delivery>('GET', `/api/v1/webhooks/${props.hook.id}/deliveries/${props.id}`);
      setD(r.data);
      setError(null);
      // The body as sent: {id, event, webhook_id}; the event is the ledger's (a ping's is made up).
      let event: unknown;
      if (r.data.event_id === null)
        event = { id: null, type: r.data.event_type, subject: `webhook:${props.hook.id}`, data: { webhook_id: props.hook.id } };
      else event = (await api('GET', `/api/v1/events/${r.data.event_id}`)).data;
      setPayload(JSON.stringify({ id: r.data.id, event, webhook_id: props.hook.id }, null, 2));
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => void load(), [props.id, props.stamp]);
  const redeliver = async () => {
    setError(null);
    try {
      await api('POST', `/api/v1/webhooks/${props.hook.id}/deliveries/${props.id}/redeliver`);
      setNotice(['wh.redelivered']);
      props.onRedelivered();
      await load();
    } catch (e) {
      setError(e);
    }
  };
  if (error && !d) return <ErrorBox error={error} />;
  if (!d) return <Loading />;
  const log = d.attempt_log ?? [];
  return (
    <div class="delivery-body" id={`delivery-${d.id}`}>
      {notice && (
        <p class="notice ok" role="status">
          {tu(notice[0], notice[1])}
        </p>
      )}
      {error !== null && <ErrorBox error={error} />}
      <div class="actions">
        <button type="button" class="wh-redeliver" onClick={() => void redeliver()}>
          {tu('wh.redeliver')}
        </button>
      </div>
      <h4>{tu('wh.attempts', { n: log.length })}</h4>
      {log.length === 0 ? (
        <p class="muted">{tu('wh.noAttempts')}</p>
      ) : (
        <table class="list attempts">
          <thead>
            <tr>
              <th scope="col">{tu('wh.startedAt')}</th>
              <th scope="col" class="num">{tu('wh.latency')}</th>
              <th scope="col">{tu('wh.code')}</th>
              <th scope="col">{tu('wh.error')}</th>
              <th scope="col">{tu('wh.responseBody')}</th>
            </tr>
          </thead>
          <tbody>
            {log.map((a) => (
              <tr key={a.id} class={a.status_code !== null && a.status_code >= 200 && a.status_code < 300 ? 'ok' : 'bad'}>
                <td>{formatTime(a.started_at)}</td>
                <td class="num attempt-latency">{tu('wh.ms', { n: a.duration_ms })}</td>
                <td class="mono attempt-code">{a.status_code ?? '—'}</td>
                <td class="small">{a.error ?? ''}</td>
                <td>{a.response ? <pre class="wh-body attempt-response">{a.response}</pre> : <span class="muted">{tu('wh.emptyBody')}</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h4>{tu('wh.payload')}</h4>
      {payload ? <pre class="wh-body wh-payload">{payload}</pre> : <Loading />}
    </div>
  );
}
