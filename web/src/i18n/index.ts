// i18n: the current locale, message look-up with {param} substitution, and the choice
// of locale (remembered in localStorage; zh-CN when the browser asks for Chinese, else
// English). Components read t() during render and re-render through useLocale().
import { useEffect, useState } from 'preact/hooks';
import { en, type MessageKey, type Messages } from './en';
import { zhCN } from './zh-CN';

export type Locale = 'en' | 'zh-CN';
export type { MessageKey };
export const LOCALES: Locale[] = ['en', 'zh-CN'];
const catalogues: Record<Locale, Messages> = { en, 'zh-CN': zhCN };
const STORAGE_KEY = 'smile.locale';

export function isLocale(v: unknown): v is Locale {
  return v === 'en' || v === 'zh-CN';
}

/** The locale the browser asks for: zh-CN for any Chinese preference, else English. */
export function browserLocale(langs: readonly string[] = navigator.languages ?? [navigator.language]): Locale {
  for (const l of langs) {
    const low = l.toLowerCase();
    if (low.startsWith('zh')) return 'zh-CN';
    if (low.startsWith('en')) return 'en';
  }
  return 'en';
}

export function storedLocale(): Locale | null {
  try {
    const v = localStorage.getItem(STORAGE_KEY);
    return isLocale(v) ? v : null;
  } catch {
    return null;
  }
}

let current: Locale = storedLocale() ?? browserLocale();
const listeners = new Set<(l: Locale) => void>();

function apply(l: Locale) {
  document.documentElement.lang = l;
  document.title = catalogues[l]['app.name'];
}
apply(current);

export function locale(): Locale {
  return current;
}

/** Switches the locale, remembers it and re-renders every subscriber. */
export function setLocale(l: Locale, remember = true) {
  if (remember) {
    try {
      localStorage.setItem(STORAGE_KEY, l);
    } catch {
      /* private mode: not remembered */
    }
  }
  if (l === current) return;
  current = l;
  apply(l);
  for (const fn of listeners) fn(l);
}

/** The message for key in the current locale, with {name} replaced from params. */
export function t(key: MessageKey, params?: Record<string, string | number>): string {
  let s = catalogues[current][key] ?? en[key] ?? key;
  if (params) s = s.replace(/\{(\w+)\}/g, (m, k: string) => (k in params ? String(params[k]) : m));
  return s;
}

/** Subscribes the calling component to locale changes; returns the locale. */
export function useLocale(): Locale {
  const [l, set] = useState(current);
  useEffect(() => {
    listeners.add(set);
    set(current);
    return () => void listeners.delete(set);
  }, []);
  return l;
}

/** Formats an RFC 3339 time for the current locale (local time zone of the browser). */
export function formatTime(iso: string | undefined | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(current, { dateStyle: 'medium', timeStyle: 'short' });
}
