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

/** Time left now: what the server said at fetchedAt, minus the time since — unless the
 *  clock is paused or idle (a business-time clock outside working hours, see idleTasks). */
export function leftNow(task: Task, fetchedAt: number, now: number, idle?: Set<number>): number {
  return task.paused || idle?.has(task.id) ? task.time_left_ms : task.time_left_ms - (now - fetchedAt);
}

export interface Snapshot {
  at: number;
  left: Map<number, number>;
}

/** A snapshot of a fetch, to compare with the next one. */
export function snapshot(tasks: Task[], at: number): Snapshot {
  return { at, left: new Map(tasks.map((x) => [x.id, x.time_left_ms])) };
}

/** The tasks whose clock did not move between two fetches at least 5 s apart: business
 *  time standing still outside working hours (nights, weekends, holidays). The page cannot
 *  know the calendar, so it stops counting those down locally until a fetch shows them
 *  moving again. Worked example: fetched at 22:00:00 with 3 600 000 ms left and again at
 *  22:00:30 with 3 600 000 ms → idle; a wall-clock task shows 3 570 000 → not idle. */
export function idleTasks(prev: Snapshot | null, tasks: Task[], at: number): Set<number> {
  const out = new Set<number>();
  if (!prev || at - prev.at < 5000) return out;
  for (const x of tasks) {
    const before = prev.left.get(x.id);
    if (!x.paused && before !== undefined && Math.abs(before - x.time_left_ms) < 1000) out.add(x.id);
  }
  return out;
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
      return { icon: '✖', text: t('task.overdue') };
    case 'warned':
      return { icon: '⚠', text: t('task.warned') };
    case 'paused':
      return { icon: '⏸', text: t('task.paused') };
    default:
      return { icon: '●', text: t('task.onTime') };
  }
}
