// The supervisor's live board: open steps nearing breach across the team (GET
// /api/v1/tasks, every task for supervisors, or ?team=), the workload per holder
// (/tasks/summary), today's compliance per process and per step (GET /api/v1/indicators,
// period = today in China) and who is available (the users list carries presence). It
// updates without a reload: every `sla`, `case` or `notification` event of the stream
// (live.ts) re-fetches (debounced), and the latest deadline events are listed as alerts.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../../api';
import { ErrorBox, Link, Loading } from '../../components/common';
import { t, type MessageKey } from '../../i18n';
import { useLive, useLiveOpen, type LiveKind } from '../../live';
import { functionName, sortTasks, stepTitle, useNow } from './MyWork';
import { formatLeft, idleTasks, leftNow, snapshot, urgency, urgencyLabel, type Snapshot, type Task } from './tasks';

interface Summary {
  assignee: string | null;
  team: string | null;
  open: number;
  warned: number;
  breached: number;
  paused: number;
  most_urgent_ms: number | null;
}
interface Row {
  key: string;
  value: number | null;
  count: number;
  has_data: boolean;
}
interface Staff {
  id: number;
  username: string;
  display_name?: string;
  role: string;
  team_id?: number | null;
  disabled?: boolean;
  presence?: string;
  effective_presence?: string;
}
interface Alert {
  at: number;
  type: string;
  subject: string;
  step: string;
}

/** Today's date in China (the calendar the standards are kept on): "2026-11-29". */
export function todayInChina(now = new Date()): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
}

function pct(v: number | null): string {
  return v === null ? '—' : `${Math.round(v * 1000) / 10} %`;
}

export function Board() {
  const [team, setTeam] = useState('');
  const [tasks, setTasks] = useState<Task[] | null>(null);
  const [fetchedAt, setFetchedAt] = useState(Date.now());
  const [idle, setIdle] = useState<Set<number>>(new Set());
  const snap = useRef<Snapshot | null>(null);
  const [summary, setSummary] = useState<Summary[]>([]);
  const [byProcess, setByProcess] = useState<Row[] | null>(null);
  const [byStep, setByStep] = useState<Row[] | null>(null);
  const [staff, setStaff] = useState<Staff[]>([]);
  const [alerts, setAlerts] = useState<Alert[]>([]);
  const [error, setError] = useState<unknown>(null);
  const now = useNow();
  const live = useLiveOpen();
  const day = todayInChina();

  const load = useCallback(async () => {
    const q = team ? `team=${encodeURIComponent(team)}&` : '';
    try {
      const [a, b] = await Promise.all([
        api<{ items: Task[] }>('GET', `/api/v1/tasks?${q}limit=200`),
        api<{ items: Summary[] }>('GET', `/api/v1/tasks/summary${q ? `?${q.slice(0, -1)}` : ''}`),
      ]);
      setTasks(sortTasks(a.data.items ?? []));
      const at = Date.now();
      const items = a.data.items ?? [];
      setIdle(idleTasks(snap.current, items, at));
      // Keep the older snapshot while fetches come close together (stream bursts).
      if (!snap.current || at - snap.current.at >= 5000) snap.current = snapshot(items, at);
      setFetchedAt(at);
      setSummary(b.data.items ?? []);
      setError(null);
    } catch (e) {
      setError(e);
    }
    const f = team ? `&team=${encodeURIComponent(team)}` : '';
    api<{ rows: Row[] }>('GET', `/api/v1/indicators?name=compliance&by=process&period=${day}${f}`)
      .then((r) => setByProcess(r.data.rows ?? []))
      .catch(() => setByProcess(null));
    api<{ rows: Row[] }>('GET', `/api/v1/indicators?name=compliance&by=step&period=${day}${f}`)
      .then((r) => setByStep(r.data.rows ?? []))
      .catch(() => setByStep(null));
    api<{ items: Staff[] }>('GET', '/api/v1/users?limit=500')
      .then((r) => setStaff(r.data.items ?? []))
      .catch(() => setStaff([]));
  }, [team, day]);
  useEffect(() => {
    void load();
    const id = window.setInterval(() => void load(), 30000);
    return () => clearInterval(id);
  }, [load]);

  const timer = useRef(0);
  const onLive = useCallback(
    (kind: LiveKind, data: Record<string, unknown>) => {
      if (kind === 'sla') {
        const d = (data.data ?? {}) as Record<string, unknown>;
        const a: Alert = {
          at: Date.now(),
          type: String(data.type ?? ''),
          subject: String(data.subject ?? ''),
          step: String(d.step_title ?? d.step ?? ''),
        };
        setAlerts((xs) => [a, ...xs].slice(0, 20));
      }
      clearTimeout(timer.current);
      timer.current = window.setTimeout(() => void load(), 300);
    },
    [load],
  );
  useLive(onLive);

  // Teams seen so far (choosing one narrows the summary, the choice must stay).
  const seen = useRef(new Set<string>());
  for (const x of summary) if (x.team) seen.current.add(x.team);
  const teams = Array.from(seen.current).sort();
  if (error && !tasks) return <ErrorBox error={error} onRetry={() => void load()} />;
  if (!tasks) return <Loading />;
  const atRisk = tasks.filter((x) => x.warned || x.breached || (!x.paused && leftNow(x, fetchedAt, now, idle) < 4 * 3600e3));
  const pres = (u: Staff) => u.effective_presence ?? u.presence ?? 'available';
  // Alerts name the step by key; show its title when a task of it is on the board.
  const stepNames = new Map(tasks.map((x) => [x.step.key, stepTitle(x)]));
  // Rows by process are keyed by process id; name them from the tasks seen.
  const procNames = new Map(tasks.map((x) => [String(x.process.id), x.process.name]));
  const people = staff.filter((u) => !u.disabled && u.role !== 'admin');

  return (
    <section class="page board">
      <header class="page-head">
        <h1>{t('board.title')}</h1>
        <span class={`live-badge ${live ? 'on' : 'off'}`} id="live-badge">
          <span aria-hidden="true">{live ? '●' : '○'}</span> {t(live ? 'board.live' : 'board.offline')}
        </span>
        <label>
          {t('board.team')}{' '}
          <select id="board-team" value={team} onChange={(e) => setTeam(e.currentTarget.value)}>
            <option value="">{t('board.allTeams')}</option>
            {teams.map((x) => (
              <option key={x} value={x}>
                {x}
              </option>
            ))}
          </select>
        </label>
      </header>
      <div class="board-grid">
        <section class="card board-risk">
          <h2>{t('board.atRisk', { n: atRisk.length })}</h2>
          {atRisk.length === 0 ? (
            <p class="muted">{t('board.noRisk')}</p>
          ) : (
            <table class="tasks" id="board-tasks">
              <thead>
                <tr>
                  <th>{t('task.state')}</th>
                  <th>{t('task.step')}</th>
                  <th>{t('task.subject')}</th>
                  <th>{t('task.holder')}</th>
                  <th class="num">{t('task.time_left')}</th>
                </tr>
              </thead>
              <tbody>
                {atRisk.map((x) => {
                  const left = leftNow(x, fetchedAt, now, idle);
                  const u = urgency(x, left);
                  const lab = urgencyLabel(u);
                  return (
                    <tr key={x.id} class={`task task-${u}`} data-task={x.id}>
                      <td class="state">
                        <span aria-hidden="true">{lab.icon}</span> {lab.text}
                      </td>
                      <td>
                        {stepTitle(x)} <span class="tag">{functionName(x.function)}</span>
                      </td>
                      <td>
                        {x.case_id ? <Link href={`/app/cases/${x.case_id}`}>{t('case.title', { id: x.case_id })}</Link> : x.subject}
                      </td>
                      <td>{x.assignee ?? (x.team ? t('board.queue', { team: x.team }) : '—')}</td>
                      <td class="num left">{formatLeft(left)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          )}
        </section>
        <section class="card">
          <h2>{t('board.alerts')}</h2>
          {alerts.length === 0 ? (
            <p class="muted">{t('board.noAlerts')}</p>
          ) : (
            <ul class="alerts" id="board-alerts">
              {alerts.map((a, i) => (
                <li key={`${a.at}-${i}`} class={a.type === 'sla.breached' ? 'alert-breached' : 'alert-warned'}>
                  <span aria-hidden="true">{a.type === 'sla.breached' ? '✖' : '⚠'}</span>{' '}
                  <strong>{t(a.type === 'sla.breached' ? 'task.overdue' : 'task.warned')}</strong> {a.subject.replace(/^case:/, '#')}
                  {a.step && <span class="muted"> · {stepNames.get(a.step) ?? a.step}</span>}
                </li>
              ))}
            </ul>
          )}
          <h2>{t('board.workload')}</h2>
          <table class="summary" id="board-summary">
            <thead>
              <tr>
                <th>{t('task.holder')}</th>
                <th class="num">{t('board.open')}</th>
                <th class="num">{t('task.warned')}</th>
                <th class="num">{t('task.overdue')}</th>
                <th class="num">{t('task.paused')}</th>
              </tr>
            </thead>
            <tbody>
              {summary.map((x) => (
                <tr key={`${x.team}/${x.assignee}`}>
                  <td>
                    {x.assignee ? (
                      <>
                        {x.assignee}
                        {x.team && <span class="muted"> · {x.team}</span>}
                      </>
                    ) : (
                      t('board.queue', { team: x.team ?? '—' })
                    )}
                  </td>
                  <td class="num">{x.open}</td>
                  <td class="num">{x.warned}</td>
                  <td class="num">{x.breached}</td>
                  <td class="num">{x.paused}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
        <section class="card">
          <h2>{t('board.compliance', { day })}</h2>
          {byProcess === null ? (
            <p class="muted">{t('board.noKpi')}</p>
          ) : (
            <ComplianceTable rows={byProcess} label={t('board.process')} id="board-kpi-process" names={procNames} />
          )}
          {byStep !== null && <ComplianceTable rows={byStep} label={t('task.step')} id="board-kpi-step" />}
        </section>
        <section class="card">
          <h2>{t('board.people')}</h2>
          <ul class="people" id="board-people">
            {people.map((u) => (
              <li key={u.id} class={`presence-${pres(u)}`}>
                <span class="dot" aria-hidden="true" /> {u.display_name || u.username}{' '}
                <span class="muted">{t(`presence.${pres(u)}` as MessageKey)}</span>
              </li>
            ))}
          </ul>
        </section>
      </div>
    </section>
  );
}

function ComplianceTable(props: { rows: Row[]; label: string; id: string; names?: Map<string, string> }) {
  if (!props.rows.length) return <p class="muted">{t('board.noData')}</p>;
  return (
    <table class="summary" id={props.id}>
      <thead>
        <tr>
          <th>{props.label}</th>
          <th class="num">{t('board.rate')}</th>
          <th class="num">{t('board.decided')}</th>
        </tr>
      </thead>
      <tbody>
        {props.rows.map((r) => (
          <tr key={r.key} class={r.value !== null && r.value < 0.8 ? 'low' : ''}>
            <td>{props.names?.get(r.key) ?? (r.key || '—')}</td>
            <td class="num">
              {r.value !== null && r.value < 0.8 && <span aria-label={t('board.below')}>▼ </span>}
              {pct(r.has_data ? r.value : null)}
            </td>
            <td class="num">{r.count}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
