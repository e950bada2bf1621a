// The signed-in user. The session cookie is HttpOnly (the page never sees it); the user
// and the CSRF token are kept in sessionStorage so a reload of the tab stays signed in.
// A 401 from any call clears this and sends the app back to the sign-in page.
import { useEffect, useState } from 'preact/hooks';
import { api, setCsrfToken, setExpiredHandler } from './api';
import { isLocale, setLocale, storedLocale, type Locale } from './i18n';
import { navigate } from './router';

export type Role = 'agent' | 'supervisor' | 'admin';
export interface User {
  id: number;
  username: string;
  display_name: string;
  role: Role;
  team_id: number | null;
  locale: string | null;
}
export interface Session {
  user: User;
  csrf_token: string;
  expires_at: string;
}

const KEY = 'smile.session';
const NOTICE_KEY = 'smile.notice';
let current: Session | null = load();
let notice: 'expired' | 'signedOut' | null = null;
const listeners = new Set<() => void>();

function load(): Session | null {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as Session | null;
    if (s && Date.parse(s.expires_at) > Date.now()) {
      setCsrfToken(s.csrf_token);
      return s;
    }
  } catch {
    /* ignore */
  }
  return null;
}

function changed() {
  for (const fn of listeners) fn();
}

export function session(): Session | null {
  return current;
}

/** Why the user is on the sign-in page (kept in sessionStorage: it survives a reload). */
export function takeNotice(): 'expired' | 'signedOut' | null {
  let n = notice;
  notice = null;
  try {
    const v = sessionStorage.getItem(NOTICE_KEY);
    sessionStorage.removeItem(NOTICE_KEY);
    if (!n && (v === 'expired' || v === 'signedOut')) n = v;
  } catch {
    /* ignore */
  }
  return n;
}

function setNotice(n: 'expired' | 'signedOut') {
  notice = n;
  try {
    sessionStorage.setItem(NOTICE_KEY, n);
  } catch {
    /* ignore */
  }
}

export function useSession(): Session | null {
  const [, force] = useState(0);
  useEffect(() => {
    const fn = () => force((n) => n + 1);
    listeners.add(fn);
    return () => void listeners.delete(fn);
  }, []);
  return current;
}

// Set while signed in, in localStorage (shared by the tabs): a new tab asks the server
// for the session (GET /api/v1/session) only when it is set, so anonymous visitors make
// no request that must fail.
const HINT = 'smile.signedIn';

function store(s: Session | null) {
  current = s;
  setCsrfToken(s ? s.csrf_token : null);
  try {
    if (s) {
      sessionStorage.setItem(KEY, JSON.stringify(s));
      localStorage.setItem(HINT, '1');
    } else {
      sessionStorage.removeItem(KEY);
      localStorage.removeItem(HINT);
    }
  } catch {
    /* ignore */
  }
  changed();
}

/** In a new tab of a signed-in browser: takes the session (user, CSRF token) from the server. */
export async function restoreSession(): Promise<void> {
  try {
    if (current || localStorage.getItem(HINT) !== '1') return;
  } catch {
    return;
  }
  try {
    const r = await api<Session>('GET', '/api/v1/session', undefined, { noExpire: true });
    if (r.data?.user && r.data.csrf_token) store(r.data);
  } catch {
    store(null);
  }
}

export async function signIn(username: string, password: string): Promise<Session> {
  const r = await api<Session>('POST', '/api/v1/session', { username, password }, { noExpire: true });
  store(r.data);
  // The user's saved language applies unless this browser already chose one.
  if (!storedLocale() && isLocale(r.data.user.locale)) setLocale(r.data.user.locale, false);
  return r.data;
}

export async function signOut() {
  try {
    await api('DELETE', '/api/v1/session', undefined, { noExpire: true });
  } catch {
    /* signed out locally either way */
  }
  setNotice('signedOut');
  store(null);
  navigate('/app/sign-in');
}

export function expire() {
  if (!current) return;
  setNotice('expired');
  store(null);
  navigate('/app/sign-in');
}
setExpiredHandler(expire);

/** Remembers the language on the server for this user (ignored where not supported yet). */
export async function saveLocale(l: Locale) {
  if (!current) return;
  try {
    await api('PATCH', '/api/v1/session', { locale: l });
    store({ ...current, user: { ...current.user, locale: l } });
  } catch {
    /* localStorage keeps it */
  }
}

export function canReveal(s: Session | null): boolean {
  return !!s && (s.user.role === 'supervisor' || s.user.role === 'admin');
}
