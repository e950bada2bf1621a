// A small history router for the paths under /app/. Routes are matched in order; a
// pattern segment ":name" captures one path segment.
import { useEffect, useState } from 'preact/hooks';

const listeners = new Set<() => void>();

export function navigate(to: string, replace = false) {
  if (to === location.pathname + location.search) return;
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  for (const fn of listeners) fn();
  window.scrollTo(0, 0);
}

window.addEventListener('popstate', () => {
  for (const fn of listeners) fn();
});

export function usePath(): string {
  const [p, set] = useState(location.pathname);
  useEffect(() => {
    const fn = () => set(location.pathname);
    listeners.add(fn);
    return () => void listeners.delete(fn);
  }, []);
  return p;
}

export function match(pattern: string, path: string): Record<string, string> | null {
  const ps = pattern.split('/').filter(Boolean);
  const us = path.split('/').filter(Boolean);
  if (ps.length !== us.length) return null;
  const out: Record<string, string> = {};
  for (let i = 0; i < ps.length; i++) {
    const p = ps[i]!;
    const u = us[i]!;
    if (p.startsWith(':')) out[p.slice(1)] = decodeURIComponent(u);
    else if (p !== u) return null;
  }
  return out;
}

/** Click handler for <a href> inside the app: client-side navigation, new tab still works. */
export function linkClick(e: MouseEvent) {
  const a = (e.currentTarget as HTMLAnchorElement) ?? null;
  if (!a || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(a.getAttribute('href') ?? '/app/');
}
