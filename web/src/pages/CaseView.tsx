// Case view: GET /api/v1/cases/{id} (with its ETag), the actions
// POST /api/v1/cases/{id}/assign|pending|resolve|reopen|close and edits by PATCH, all with
// If-Match. A 412 (someone else changed the case) reloads it and says so. The actions
// offered follow the case state machine (docs/crm.md): new → open (assign) → pending →
// resolved → closed; a pending case is resumed by PATCH {"status": "open"}.
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, type ApiResult } from '../api';
import { ErrorBox, Link, Loading } from '../components/common';
import { formatTime, t, type MessageKey } from '../i18n';
import { useSession } from '../session';
// uimail: the e-mail thread and reply composer (lazy chunk)
import { LazyMail } from '../components/LazyMail';

export interface Case {
  id: number;
  type?: string;
  subject?: string;
  status: string;
  priority?: string;
  customer_id?: number | null;
  assignee_id?: number | null;
  team_id?: number | null;
  channel?: string;
  opened_at?: string;
  [k: string]: unknown;
}

interface StaffUser {
  id: number;
  username: string;
  display_name?: string;
}

type Action = 'assign' | 'pending' | 'resume' | 'resolve' | 'reopen' | 'close';
const ACTIONS: Record<string, Action[]> = {
  new: ['assign', 'resolve'],
  open: ['assign', 'pending', 'resolve'],
  pending: ['assign', 'resume', 'resolve'],
  resolved: ['reopen', 'close'],
  closed: [],
};

/** A message key's text when the catalogue has it, else the raw value. */
function tr(prefix: string, v: string | undefined | null): string {
  if (!v) return '';
  const key = `${prefix}.${v}` as MessageKey;
  const s = t(key);
  return s === key ? v : s;
}

export function CaseView(props: { id: string }) {
  const s = useSession();
  const [c, setC] = useState<Case | null>(null);
  const [etag, setEtag] = useState<string | null>(null);
  const [users, setUsers] = useState<StaffUser[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [assignee, setAssignee] = useState('');
  const [msg, setMsg] = useState<string | null>(null);
  const [editing, setEditing] = useState(false);
  const [subject, setSubject] = useState('');
  const base = `/api/v1/cases/${encodeURIComponent(props.id)}`;

  const load = async () => {
    setError(null);
    try {
      const r = await api<Case>('GET', base);
      setC(r.data);
      setEtag(r.etag);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    void load();
    api<{ items: StaffUser[] }>('GET', '/api/v1/users?limit=500')
      .then((r) => setUsers(r.data.items ?? []))
      .catch(() => setUsers([]));
  }, [props.id]);

  const handle = async (fn: () => Promise<ApiResult<Case>>) => {
    setMsg(null);
    setActionError(null);
    try {
      const r = await fn();
      if (r.data && typeof r.data === 'object' && 'status' in r.data) {
        setC(r.data);
        setEtag(r.etag);
        if (!r.etag) await load();
      } else await load();
      setMsg(t('case.done'));
    } catch (e) {
      if (e instanceof ApiError && e.status === 412) {
        await load();
        setMsg(t('case.stale'));
      } else setActionError(e);
    }
  };

  const act = (a: Action, assigneeId?: number) =>
    handle(() => {
      if (a === 'resume') return api<Case>('PATCH', base, { status: 'open' }, { ifMatch: etag });
      const body = a === 'assign' ? { assignee_id: assigneeId } : {};
      return api<Case>('POST', `${base}/${a}`, body, { ifMatch: etag });
    });

  const save = () =>
    handle(async () => {
      const r = await api<Case>('PATCH', base, { subject }, { ifMatch: etag });
      setEditing(false);
      return r;
    });

  if (error) return <ErrorBox error={error} onRetry={() => void load()} />;
  if (!c) return <Loading />;
  const actions = ACTIONS[c.status] ?? [];
  const who = (id: number | null | undefined) => {
    if (!id) return t('case.unassigned');
    const u = users.find((x) => x.id === id);
    return u ? u.display_name || u.username : `#${id}`;
  };

  return (
    <section class="page case">
      <header class="page-head">
        <h1 id="case-title">
          {t('case.title', { id: c.id })}
          {c.subject && <span class="muted"> · {c.subject}</span>}
        </h1>
        <span class={`status status-${c.status}`} id="case-status">
          {tr('case.status', c.status)}
        </span>
      </header>
      <div class="grid-2">
        <section class="card">
          <dl class="fields">
            <div>
              <dt>{t('case.subject')}</dt>
              <dd>
                {editing ? (
                  <form
                    class="inline"
                    onSubmit={(e) => {
                      e.preventDefault();
                      void save();
                    }}
                  >
                    <input value={subject} onInput={(e) => setSubject(e.currentTarget.value)} aria-label={t('case.subject')} />
                    <button type="submit" class="primary small">
                      {t('common.save')}
                    </button>
                    <button type="button" class="small" onClick={() => setEditing(false)}>
                      {t('common.cancel')}
                    </button>
                  </form>
                ) : (
                  <>
                    {c.subject}
                    {c.status !== 'closed' && (
                      <button
                        type="button"
                        class="small"
                        id="case-edit"
                        onClick={() => {
                          setSubject(c.subject ?? '');
                          setEditing(true);
                        }}
                      >
                        {t('case.edit')}
                      </button>
                    )}
                  </>
                )}
              </dd>
            </div>
            <div>
              <dt>{t('case.type')}</dt>
              <dd>{tr('case.type', c.type)}</dd>
            </div>
            <div>
              <dt>{t('case.priority')}</dt>
              <dd>{tr('case.priority', c.priority)}</dd>
            </div>
            <div>
              <dt>{t('case.assignee')}</dt>
              <dd id="case-assignee">{who(c.assignee_id)}</dd>
            </div>
            <div>
              <dt>{t('case.customer')}</dt>
              <dd>{c.customer_id ? <Link href={`/app/customers/${c.customer_id}`}>#{c.customer_id}</Link> : ''}</dd>
            </div>
            <div>
              <dt>{t('case.opened')}</dt>
              <dd>{formatTime(c.opened_at)}</dd>
            </div>
          </dl>
        </section>
        <section class="card actions-card">
          {actions.includes('assign') && (
            <div class="assign">
              <label>
                {t('case.assignTo')}
                <select id="case-assignee-select" value={assignee} onChange={(e) => setAssignee(e.currentTarget.value)}>
                  <option value="" />
                  {users.map((u) => (
                    <option key={u.id} value={String(u.id)}>
                      {u.display_name ? `${u.display_name} (${u.username})` : u.username}
                    </option>
                  ))}
                </select>
              </label>
              <div class="actions">
                <button type="button" id="case-assign" disabled={!assignee} onClick={() => void act('assign', Number(assignee))}>
                  {t('case.assign')}
                </button>
                {s && c.assignee_id !== s.user.id && (
                  <button type="button" id="case-assign-me" onClick={() => void act('assign', s.user.id)}>
                    {t('case.assignMe')}
                  </button>
                )}
              </div>
            </div>
          )}
          <div class="actions">
            {actions
              .filter((a) => a !== 'assign')
              .map((a) => (
                <button type="button" key={a} id={`case-${a}`} class={a === 'resolve' ? 'primary' : ''} onClick={() => void act(a)}>
                  {t(`case.${a}` as MessageKey)}
                </button>
              ))}
          </div>
          {msg && <p role="status">{msg}</p>}
          {actionError !== null && <ErrorBox error={actionError} />}
        </section>
      </div>
      {/* uimail */}
      <LazyMail caseRec={c} onCase={() => void load()} />
    </section>
  );
}
