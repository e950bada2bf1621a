// My work: the agent's home. The task inbox (GET /api/v1/tasks?mine=1) with each step's
// time left counted down locally every second from time_left_ms, re-fetched every 30 s and
// on every pushed event; sorted by urgency (running clocks by time left, then paused ones);
// overdue and due-soon rows have their own colour AND an icon and a word. Selecting a task
// opens the case beside the list with only the functions the step needs, each one key
// away: R reply (a real e-mail for a case that came by e-mail), B call back, A assign to me,
// S resolve, X close, O open the full case
// (j/k or arrows move, Enter selects). Doing the function emits the event that ends the
// step (docs/work.md §2), and the task leaves the inbox.
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiError } from '../../api';
import { ErrorBox, Link, Loading } from '../../components/common';
import { locale, t, type MessageKey } from '../../i18n';
import { useLive } from '../../live';
import { navigate } from '../../router';
import { useSession } from '../../session';
import { formatLeft, idleTasks, leftNow, snapshot, urgency, urgencyLabel, type Snapshot, type Task } from './tasks';

export function stepTitle(task: Task): string {
  const x = task.step.title ?? {};
  return (locale() === 'zh-CN' ? x.zh || x.en : x.en || x.zh) || task.step.key;
}

export function functionName(f: string): string {
  const key = `fn.${f}` as MessageKey;
  const s = t(key);
  return s === key ? f : s;
}

/** Sorted by urgency: running clocks by time left (overdue first), paused ones after. */
export function sortTasks(tasks: Task[]): Task[] {
  return [...tasks].sort((a, b) => Number(a.paused) - Number(b.paused) || a.time_left_ms - b.time_left_ms || a.id - b.id);
}

/** Ticks once a second; returns the current time. */
export function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const id = window.setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(id);
  }, []);
  return now;
}

function isTyping(e: KeyboardEvent) {
  const el = e.target as HTMLElement;
  return /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName) || el.isContentEditable;
}

export function MyWork() {
  const [tasks, setTasks] = useState<Task[] | null>(null);
  const [fetchedAt, setFetchedAt] = useState(Date.now());
  const [idle, setIdle] = useState<Set<number>>(new Set());
  const snap = useRef<Snapshot | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [sel, setSel] = useState<number | null>(null);
  const now = useNow();
  const busy = useRef(false);

  const load = useCallback(async () => {
    if (busy.current) return;
    busy.current = true;
    try {
      const r = await api<{ items: Task[] }>('GET', '/api/v1/tasks?mine=1&limit=200');
      setTasks(sortTasks(r.data.items ?? []));
      const at = Date.now();
      const items = r.data.items ?? [];
      setIdle(idleTasks(snap.current, items, at));
      // Keep the older snapshot while fetches come close together (stream bursts).
      if (!snap.current || at - snap.current.at >= 5000) snap.current = snapshot(items, at);
      setFetchedAt(at);
      setError(null);
    } catch (e) {
      setError(e);
    } finally {
      busy.current = false;
    }
  }, []);
  useEffect(() => {
    void load();
    const id = window.setInterval(() => void load(), 30000);
    return () => clearInterval(id);
  }, []);
  const timer = useRef(0);
  const onLive = useCallback(() => {
    clearTimeout(timer.current);
    timer.current = window.setTimeout(() => void load(), 300);
  }, []);
  useLive(onLive);

  const list = tasks ?? [];
  const selected = list.find((x) => x.id === sel) ?? null;
  const idx = selected ? list.indexOf(selected) : -1;

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (isTyping(e) || e.ctrlKey || e.metaKey || e.altKey || !list.length) return;
      if (e.key === 'j' || e.key === 'ArrowDown') {
        e.preventDefault();
        setSel(list[Math.min(list.length - 1, idx + 1)]!.id);
      } else if (e.key === 'k' || e.key === 'ArrowUp') {
        e.preventDefault();
        setSel(list[Math.max(0, idx - 1)]!.id);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [list, idx]);

  const stats = useMemo(() => {
    let over = 0;
    let warn = 0;
    for (const x of list) {
      const u = urgency(x, leftNow(x, fetchedAt, now, idle));
      if (u === 'breached') over++;
      else if (u === 'warned') warn++;
    }
    return { over, warn };
  }, [list, now, fetchedAt, idle]);

  if (error && !tasks) return <ErrorBox error={error} onRetry={() => void load()} />;
  if (!tasks) return <Loading />;
  return (
    <section class="page work">
      <header class="page-head">
        <h1>{t('work.title')}</h1>
        <p class="muted" id="work-stats">
          {t('work.stats', { n: list.length, over: stats.over, warn: stats.warn })}
        </p>
      </header>
      <div class="work-grid">
        <div class="card">
          {list.length === 0 ? (
            <p class="muted" id="work-empty">
              {t('work.empty')}
            </p>
          ) : (
            <table class="tasks" id="tasks">
              <thead>
                <tr>
                  <th>{t('task.state')}</th>
                  <th>{t('task.step')}</th>
                  <th>{t('task.subject')}</th>
                  <th class="num">{t('task.time_left')}</th>
                </tr>
              </thead>
              <tbody>
                {list.map((x) => {
                  const left = leftNow(x, fetchedAt, now, idle);
                  const u = urgency(x, left);
                  const lab = urgencyLabel(u);
                  return (
                    <tr
                      key={x.id}
                      class={`task task-${u}${x.id === sel ? ' selected' : ''}`}
                      data-task={x.id}
                      aria-selected={x.id === sel}
                      onClick={() => setSel(x.id)}
                    >
                      <td class="state">
                        <span aria-hidden="true">{lab.icon}</span> {lab.text}
                      </td>
                      <td>
                        <button type="button" class="linkish" onClick={() => setSel(x.id)}>
                          {stepTitle(x)}
                        </button>
                        <span class="tag">{functionName(x.function)}</span>
                      </td>
                      <td>
                        {x.case_id ? t('case.title', { id: x.case_id }) : x.subject}
                        {x.customer && <span class="muted"> · {x.customer.name}</span>}
                      </td>
                      <td class="num left">{x.paused ? `⏸ ${formatLeft(left)}` : formatLeft(left)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
          <p class="muted small">{t('work.keys')}</p>
        </div>
        {selected && <TaskPanel key={selected.id} task={selected} onDone={() => void load()} />}
      </div>
    </section>
  );
}

interface CaseRec {
  id: number;
  subject?: string;
  status: string;
  priority?: string;
  assignee_id?: number | null;
  channel?: string;
}

/** The selected task's case with the step's functions, each one key away. */
function TaskPanel(props: { task: Task; onDone: () => void }) {
  const s = useSession();
  const task = props.task;
  const [c, setC] = useState<CaseRec | null>(null);
  const [etag, setEtag] = useState<string | null>(null);
  const [mode, setMode] = useState<'reply' | 'call_back' | null>(null);
  const [text, setText] = useState('');
  const [msg, setMsg] = useState<string | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const area = useRef<HTMLTextAreaElement>(null);
  const caseUrl = task.case_id ? `/api/v1/cases/${task.case_id}` : null;
  const byEmail = !!caseUrl && c?.channel === 'email';

  const loadCase = async () => {
    if (!caseUrl) return;
    try {
      const r = await api<CaseRec>('GET', caseUrl);
      setC(r.data);
      setEtag(r.etag);
    } catch (e) {
      setErr(e);
    }
  };
  useEffect(() => void loadCase(), [task.id]);
  useEffect(() => {
    if (mode) area.current?.focus();
  }, [mode]);

  // The functions offered: the step's own first, then the case actions its state allows.
  const fns: string[] = [];
  const add = (f: string) => !fns.includes(f) && fns.push(f);
  if (['reply', 'call_back', 'assign', 'resolve', 'close'].includes(task.function)) add(task.function);
  if (c) {
    if (c.status !== 'resolved' && c.status !== 'closed') {
      add('reply');
      if (s && c.assignee_id !== s.user.id) add('assign');
      add('resolve');
    }
    if (c.status === 'resolved') add('close');
  }

  const after = (m: string) => {
    setMsg(m);
    setMode(null);
    setText('');
    void loadCase();
    // The runtime folds the event within milliseconds; fetch again to see the step leave.
    props.onDone();
    window.setTimeout(props.onDone, 700);
    window.setTimeout(props.onDone, 2000);
  };
  const run = async (f: string) => {
    setErr(null);
    setMsg(null);
    try {
      if (f === 'reply' || f === 'call_back') {
        if (mode !== f) {
          setMode(f);
          return;
        }
        if (!text.trim()) return;
        if (f === 'reply' && byEmail) {
          // A case that came by e-mail is answered by e-mail: sent from its mailbox to the
          // thread's last customer address (POST /api/v1/cases/{id}/reply), recorded only once
          // the SMTP server accepted it; a refusal (502) keeps the text.
          const r = await api<{ to: string[] }>('POST', `${caseUrl}/reply`, { body: text });
          after(t('work.emailed', { to: r.data.to.join(', ') }));
          return;
        }
        await api('POST', '/api/v1/interactions', {
          kind: f === 'reply' ? 'email' : 'call',
          direction: 'out',
          case_id: task.case_id,
          subject: f === 'reply' ? t('work.replySubject', { id: task.case_id ?? '' }) : undefined,
          body: text,
        });
        after(t(f === 'reply' ? 'work.replied' : 'work.called'));
      } else if (f === 'assign' && s) {
        await api('POST', `${caseUrl}/assign`, { assignee_id: s.user.id }, { ifMatch: etag });
        after(t('work.assigned'));
      } else if (f === 'resolve' || f === 'close') {
        await api('POST', `${caseUrl}/${f}`, {}, { ifMatch: etag });
        after(t(f === 'resolve' ? 'work.resolved' : 'work.closed'));
      }
    } catch (e) {
      if (e instanceof ApiError && e.status === 412) await loadCase();
      setErr(e);
    }
  };

  const keyOf: Record<string, string> = { reply: 'r', call_back: 'b', assign: 'a', resolve: 's', close: 'x' };
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (isTyping(e) || e.ctrlKey || e.metaKey || e.altKey) return;
      const k = e.key.toLowerCase();
      const f = fns.find((x) => keyOf[x] === k);
      if (f) {
        e.preventDefault();
        void run(f);
      } else if (k === 'o' && task.case_id) navigate(`/app/cases/${task.case_id}`);
      else if (k === 'escape') setMode(null);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  });

  return (
    <aside class="card task-panel" aria-label={t('work.panel')} id="task-panel">
      <h2>
        {task.case_id ? (
          <Link href={`/app/cases/${task.case_id}`}>{t('case.title', { id: task.case_id })}</Link>
        ) : (
          task.subject
        )}
        {c?.subject && <span class="muted"> · {c.subject}</span>}
      </h2>
      <p>
        <strong>{stepTitle(task)}</strong> <span class="muted">({task.process.name})</span>
      </p>
      {c && (
        <p class="muted">
          {t('case.status')}: <span id="panel-status">{t(`case.status.${c.status}` as MessageKey)}</span>
        </p>
      )}
      <div class="actions fn-actions">
        {fns.map((f) => (
          <button
            type="button"
            key={f}
            id={`fn-${f}`}
            class={f === task.function ? 'primary' : ''}
            aria-keyshortcuts={keyOf[f]?.toUpperCase()}
            onClick={() => void run(f)}
          >
            {functionName(f)} <kbd>{keyOf[f]?.toUpperCase()}</kbd>
          </button>
        ))}
        {task.case_id && (
          <Link href={`/app/cases/${task.case_id}`} class="button-link">
            {t('work.openCase')} <kbd>O</kbd>
          </Link>
        )}
      </div>
      {mode && (
        <form
          class="reply-form"
          onSubmit={(e) => {
            e.preventDefault();
            void run(mode);
          }}
        >
          <label>
            {t(mode === 'reply' ? (byEmail ? 'work.emailText' : 'work.replyText') : 'work.callNote')}
            <textarea id="reply-text" ref={area} rows={4} value={text} onInput={(e) => setText(e.currentTarget.value)} />
          </label>
          <div class="actions">
            <button type="submit" class="primary" id="reply-send" disabled={!text.trim()}>
              {t(mode === 'reply' ? (byEmail ? 'work.sendEmail' : 'work.send') : 'work.logCall')}
            </button>
            <button type="button" onClick={() => setMode(null)}>
              {t('common.cancel')}
            </button>
          </div>
        </form>
      )}
      {msg && (
        <p role="status" id="panel-msg">
          {msg}
        </p>
      )}
      {err !== null && <ErrorBox error={err} />}
    </aside>
  );
}
