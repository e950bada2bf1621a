// The live stream: one EventSource('/api/v1/stream') per signed-in tab (the session cookie
// authenticates it), shared by every component that wants pushed events. The server sends
// `notification` (the caller's own), `task` (the caller's inbox changed: a task appeared,
// changed or left it), and to supervisors and admins `sla` and `case` (every committed sla.*
// and case.* event); see docs/notifications.md §3. EventSource reconnects by
// itself with Last-Event-ID, so no notification is lost across a restart of the server.
import { useEffect, useState } from 'preact/hooks';

export type LiveKind = 'notification' | 'task' | 'sla' | 'case';
export type LiveListener = (kind: LiveKind, data: Record<string, unknown>) => void;

const listeners = new Set<LiveListener>();
const stateListeners = new Set<(open: boolean) => void>();
let es: EventSource | null = null;
let open = false;

function setOpen(v: boolean) {
  open = v;
  for (const fn of stateListeners) fn(v);
}

/** Opens the stream (once); called by the shell when a user is signed in. */
export function liveStart() {
  if (es || typeof EventSource === 'undefined') return;
  es = new EventSource('/api/v1/stream');
  es.onopen = () => setOpen(true);
  es.onerror = () => setOpen(false);
  for (const kind of ['notification', 'task', 'sla', 'case'] as LiveKind[])
    es.addEventListener(kind, (e) => {
      let data: Record<string, unknown> = {};
      try {
        data = JSON.parse((e as MessageEvent<string>).data) as Record<string, unknown>;
      } catch {
        return;
      }
      for (const fn of listeners) fn(kind, data);
    });
}

/** Closes the stream (sign-out). */
export function liveStop() {
  es?.close();
  es = null;
  setOpen(false);
}

/** Calls fn for every pushed event while the component is mounted. */
export function useLive(fn: LiveListener) {
  useEffect(() => {
    listeners.add(fn);
    return () => void listeners.delete(fn);
  }, [fn]);
}

/** Whether the stream is connected (for a "live" badge). */
export function useLiveOpen(): boolean {
  const [v, set] = useState(open);
  useEffect(() => {
    stateListeners.add(set);
    set(open); // it may have opened between the first render and this effect
    return () => void stateListeners.delete(set);
  }, []);
  return v;
}
