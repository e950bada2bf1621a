// Tasks as GET /api/v1/tasks answers them (docs/work.md §1), and how the inbox and the live
// board show their clocks: time left counted down locally from time_left_ms (a paused clock
// stands still), formatted h:mm:ss, and the urgency state that colours a row.
import { t } from '../../i18n';

export interface Task {
  id: number;
  process: { id: number; name: string };
  step: { key: string; title: { en?: string; zh?: string } };
  function: string;
  subject: string;
  case_id: number | null;
  customer: { id: number; name: string } | null;
  assignee: string | null;
  team: string | null;
  started_at: string;
  deadline_at: string | null;
  time_left_ms: number;
  paused: boolean;
  warned: boolean;
  breached: boolean;
}

export type Urgency = 'breached' | 'warned' | 'paused' | 'ok';

/** Time left now: what the server said at fetchedAt, minus the time since (unless paused). */
export function leftNow(task: Task, fetchedAt: number, now: number): number {
  return task.paused ? task.time_left_ms : task.time_left_ms - (now - fetchedAt);
}

/** A task whose time ran out locally counts as breached until the next fetch says more. */
export function urgency(task: Task, left: number): Urgency {
  if (task.breached || (!task.paused && left < 0)) return 'breached';
  if (task.warned) return 'warned';
  if (task.paused) return 'paused';
  return 'ok';
}

/** "1:02:03", "-0:00:05", "3d 4:05:06" for a duration in ms (rounded toward zero). */
export function formatLeft(ms: number): string {
  const neg = ms < 0;
  let s = Math.floor(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const p2 = (x: number) => String(x).padStart(2, '0');
  const hms = `${h}:${p2(m)}:${p2(s)}`;
  return `${neg ? '-' : ''}${d ? `${d}${t('work.days')} ` : ''}${hms}`;
}

/** Icon and text of an urgency (never colour alone). */
export function urgencyLabel(u: Urgency): { icon: string; text: string } {
  switch (u) {
    case 'breached':
      return { icon: '⛔', text: t('task.overdue') };
    case 'warned':
      return { icon: '⚠', text: t('task.warned') };
    case 'paused':
      return { icon: '⏸', text: t('task.paused') };
    default:
      return { icon: '●', text: t('task.onTime') };
  }
}
