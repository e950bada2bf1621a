// The counter page for a tablet at the front desk: full screen, one large button at a
// time. "Customer arrived" (with an optional queue ticket) starts a visit and a visible
// 5-second countdown; "Greeted" and "Left" follow. Each tap emits an event
// (POST /api/v1/events) stamped with the tablet's clock; events that could not be sent
// wait in localStorage and are retried (idempotent on source + source_id).
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, uuid } from '../api';
import { LangSwitch, Link } from '../components/common';
import { t } from '../i18n';
import { signOut, useSession } from '../session';

type VisitType = 'visit.arrived' | 'visit.greeted' | 'visit.left';
interface CounterEvent {
  type: VisitType;
  occurred_at: string;
  subject: string;
  channel: 'counter';
  actor: string;
  source: 'counter-ui';
  source_id: string;
  data: { ticket: string | null; site: string };
}
interface Visit {
  id: string;
  ticket: string;
  arrivedAt: number;
  greetedAt: number | null;
}

export const GREET_WITHIN_S = 5;
const QUEUE_KEY = 'smile.counter.queue';
const SITE_KEY = 'smile.counter.site';
const VISIT_KEY = 'smile.counter.visit';

function readQueue(): CounterEvent[] {
  try {
    return JSON.parse(localStorage.getItem(QUEUE_KEY) ?? '[]') as CounterEvent[];
  } catch {
    return [];
  }
}
function writeQueue(q: CounterEvent[]) {
  localStorage.setItem(QUEUE_KEY, JSON.stringify(q));
}

/**
 * Sends queued events in order; stops at the first failure that a retry may cure (no
 * network, 401, 5xx). An event the server refuses (another 4xx) is dropped — sending it
 * again cannot help — and its reason returned so the page can show it.
 */
async function flush(): Promise<{ left: number; refused: string | null }> {
  let q = readQueue();
  let refused: string | null = null;
  while (q.length) {
    try {
      await api('POST', '/api/v1/events', q[0]);
    } catch (e) {
      if (!(e instanceof ApiError) || e.status === 0 || e.status === 401 || e.status >= 500) break;
      refused = e.problem.errors?.[0]?.detail ?? e.message;
    }
    q = q.slice(1);
    writeQueue(q);
  }
  return { left: q.length, refused };
}

export function Counter() {
  const s = useSession();
  const [site, setSite] = useState(() => localStorage.getItem(SITE_KEY) ?? '');
  const [ticket, setTicket] = useState('');
  const [visit, setVisit] = useState<Visit | null>(() => {
    try {
      return JSON.parse(sessionStorage.getItem(VISIT_KEY) ?? 'null') as Visit | null;
    } catch {
      return null;
    }
  });
  const [now, setNow] = useState(Date.now());
  const [pending, setPending] = useState(readQueue().length);
  const [last, setLast] = useState<string | null>(null);
  const [refused, setRefused] = useState<string | null>(null);
  const primary = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    const id = window.setInterval(() => setNow(Date.now()), 200);
    const retry = window.setInterval(() => void flush().then((r) => setPending(r.left)), 10000);
    void flush().then((r) => setPending(r.left));
    return () => {
      clearInterval(id);
      clearInterval(retry);
    };
  }, []);
  useEffect(() => {
    if (visit) sessionStorage.setItem(VISIT_KEY, JSON.stringify(visit));
    else sessionStorage.removeItem(VISIT_KEY);
    primary.current?.focus();
  }, [visit]);

  const emit = async (type: VisitType, v: Visit) => {
    const ev: CounterEvent = {
      type,
      occurred_at: new Date().toISOString(),
      subject: `visit:${v.id}`,
      channel: 'counter',
      actor: s?.user.username ?? '',
      source: 'counter-ui',
      source_id: `${v.id}-${type}`,
      data: { ticket: v.ticket || null, site },
    };
    writeQueue([...readQueue(), ev]);
    const r = await flush();
    setPending(r.left);
    setRefused(r.refused);
    setLast(r.left || r.refused ? null : t('counter.sent'));
  };

  const arrived = () => {
    // Full screen on the first tap (browsers allow it only from a user gesture).
    if (!document.fullscreenElement && document.documentElement.requestFullscreen)
      document.documentElement.requestFullscreen().catch(() => undefined);
    const v: Visit = { id: uuid(), ticket: ticket.trim(), arrivedAt: Date.now(), greetedAt: null };
    setVisit(v);
    setNow(v.arrivedAt);
    setTicket('');
    void emit('visit.arrived', v);
  };
  const greeted = () => {
    if (!visit) return;
    const v = { ...visit, greetedAt: Date.now() };
    setVisit(v);
    void emit('visit.greeted', v);
  };
  const left = () => {
    if (!visit) return;
    void emit('visit.left', visit);
    setVisit(null);
  };

  // `now` ticks every 200 ms and may be a little older than the arrival: never below 0.
  const elapsed = visit ? Math.max(0, Math.floor(((visit.greetedAt ?? now) - visit.arrivedAt) / 1000)) : 0;
  const remaining = GREET_WITHIN_S - elapsed;

  return (
    <main class="counter" id="main">
      <header class="counter-bar">
        <strong>{t('counter.title')}</strong>
        <label class="site">
          {t('counter.site')}
          <input
            id="counter-site"
            value={site}
            onInput={(e) => {
              setSite(e.currentTarget.value);
              localStorage.setItem(SITE_KEY, e.currentTarget.value);
            }}
          />
        </label>
        <span class="muted">{s?.user.display_name || s?.user.username}</span>
        <LangSwitch id="lang" />
        <Link href="/app/customers" class="exit">
          {t('counter.exit')}
        </Link>
        <button type="button" class="counter-signout" id="counter-sign-out" onClick={() => void signOut()}>
          {t('user.signOut')}
        </button>
      </header>
      <section class="counter-body" aria-live="polite">
        {!visit && (
          <>
            <p class="counter-state">{t('counter.idle')}</p>
            <label class="ticket">
              {t('counter.ticket')}
              <input id="counter-ticket" inputMode="numeric" value={ticket} onInput={(e) => setTicket(e.currentTarget.value)} />
            </label>
            <button ref={primary} type="button" class="tap arrive" id="counter-arrived" onClick={arrived}>
              {t('counter.arrived')}
            </button>
          </>
        )}
        {visit && (
          <>
            {visit.ticket && <p class="counter-state">{t('counter.visit', { ticket: visit.ticket })}</p>}
            <p
              id="counter-countdown"
              class={`countdown ${visit.greetedAt ? 'done' : remaining > 0 ? 'ok' : 'late'}`}
              role="timer"
            >
              {visit.greetedAt
                ? t('counter.greetedIn', { s: elapsed })
                : remaining > 0
                  ? t('counter.countdown', { s: remaining })
                  : t('counter.overdue', { s: -remaining })}
            </p>
            {!visit.greetedAt ? (
              <>
                <button ref={primary} type="button" class="tap greet" id="counter-greeted" onClick={greeted}>
                  {t('counter.greeted')}
                </button>
                <button type="button" class="secondary-left" id="counter-left-early" onClick={left}>
                  {t('counter.left')}
                </button>
              </>
            ) : (
              <button ref={primary} type="button" class="tap leave" id="counter-left" onClick={left}>
                {t('counter.left')}
              </button>
            )}
          </>
        )}
        <p class="muted counter-foot" id="counter-status">
          {pending > 0 ? t('counter.queued', { n: pending }) : last}
        </p>
        {refused && (
          <p class="counter-refused" role="alert" id="counter-refused">
            {t('counter.refused', { detail: refused })}
          </p>
        )}
      </section>
    </main>
  );
}
