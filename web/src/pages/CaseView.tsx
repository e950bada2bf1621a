// Case view: GET /api/v1/cases/{id} (with its ETag), the state actions
// POST /api/v1/cases/{id}/assign|resolve|reopen|close|pending, and edits by PATCH with
// If-Match. A 412 (someone else changed the case) reloads it and says so.
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { ErrorBox, Link, Loading } from '../components/common';
import { formatTime, t, type MessageKey } from '../i18n';

export interface Case {
  id: number;
  subject?: string;
  title?: string;
  status: string;
  priority?: string | number;
  customer_id?: number | null;
  assignee?: string | null;
  assignee_id?: number | null;
  opened_at?: string;
  created_at?: string;
  [k: string]: unknown;
}

type Action = 'assign' | 'resolve' | 'reopen' | 'close' | 'pending';
const ACTIONS: Record<string, Action[]> = {
  open: ['assign', 'pending', 'resolve', 'close'],
  pending: ['assign', 'reopen', 'resolve', 'close'],
  resolved: ['reopen', 'close'],
  closed: ['reopen'],
};

function statusLabel(s: string): string {
  return ['open', 'pending', 'resolved', 'closed'].includes(s) ? t(`case.status.${s}` as MessageKey) : s;
}

export function CaseView(props: { id: string }) {
  const [c, setC] = useState<Case | null>(null);
  const [etag, setEtag] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [note, setNote] = useState('');
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
  }, [props.id]);

  const handle = async (fn: () => Promise<{ data: Case; etag: string | null }>) => {
    setMsg(null);
    setActionError(null);
    try {
      const r = await fn();
      if (r.data && typeof r.data === 'object' && 'status' in r.data) {
        setC(r.data);
        setEtag(r.etag);
      } else await load();
      setMsg(t('case.done'));
      setNote('');
    } catch (e) {
      if (e instanceof ApiError && e.status === 412) {
        await load();
        setMsg(t('case.stale'));
      } else setActionError(e);
    }
  };

  const act = (a: Action) =>
    handle(() => {
      const body: Record<string, unknown> = {};
      if (note.trim()) body.note = note.trim();
      if (a === 'assign') body.assignee = assignee.trim();
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
  const title = c.subject ?? c.title ?? '';

  return (
    <section class="page case">
      <header class="page-head">
        <h1 id="case-title">
          {t('case.title', { id: c.id })}
          {title && <span class="muted"> · {title}</span>}
        </h1>
        <span class={`status status-${c.status}`} id="case-status">
          {statusLabel(c.status)}
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
                    {title}{' '}
                    <button
                      type="button"
                      class="small"
                      onClick={() => {
                        setSubject(title);
                        setEditing(true);
                      }}
                    >
                      {t('case.edit')}
                    </button>
                  </>
                )}
              </dd>
            </div>
            <div>
              <dt>{t('case.priority')}</dt>
              <dd>{c.priority ?? ''}</dd>
            </div>
            <div>
              <dt>{t('case.assignee')}</dt>
              <dd>{c.assignee ?? (c.assignee_id ? `#${c.assignee_id}` : t('case.unassigned'))}</dd>
            </div>
            <div>
              <dt>{t('case.customer')}</dt>
              <dd>{c.customer_id ? <Link href={`/app/customers/${c.customer_id}`}>#{c.customer_id}</Link> : ''}</dd>
            </div>
            <div>
              <dt>{t('case.opened')}</dt>
              <dd>{formatTime(c.opened_at ?? c.created_at)}</dd>
            </div>
          </dl>
        </section>
        <section class="card actions-card">
          <label>
            {t('case.note')}
            <textarea rows={3} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
          </label>
          {(ACTIONS[c.status] ?? []).includes('assign') && (
            <label>
              {t('case.assignTo')}
              <input value={assignee} onInput={(e) => setAssignee(e.currentTarget.value)} />
            </label>
          )}
          <div class="actions">
            {(ACTIONS[c.status] ?? []).map((a) => (
              <button type="button" key={a} id={`case-${a}`} onClick={() => void act(a)} disabled={a === 'assign' && !assignee.trim()}>
                {t(`case.${a}` as MessageKey)}
              </button>
            ))}
          </div>
          {msg && <p role="status">{msg}</p>}
          {actionError !== null && <ErrorBox error={actionError} />}
        </section>
      </div>
    </section>
  );
}
