// The top bar's search box: GET /api/v1/search?q= as the user types (debounced), results
// in a list navigable with the arrow keys; Enter opens, Escape closes. "/" focuses it.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api';
import { t, type MessageKey } from '../i18n';
import { navigate } from '../router';
import { errorText } from './common';

export interface SearchItem {
  kind: string;
  id: number | string;
  title: string;
  snippet?: string;
}

/** The page of a search hit; null for kinds without a page of their own yet. */
export function hrefFor(item: SearchItem): string | null {
  switch (item.kind) {
    case 'customer':
      return `/app/customers/${encodeURIComponent(String(item.id))}`;
    case 'case':
      return `/app/cases/${encodeURIComponent(String(item.id))}`;
    default:
      return null;
  }
}

function kindLabel(kind: string): string {
  const k = `search.kind.${kind}` as MessageKey;
  return ['customer', 'case', 'contact', 'interaction'].includes(kind) ? t(k) : t('search.kind.other');
}

export function Search() {
  const input = useRef<HTMLInputElement>(null);
  const [q, setQ] = useState('');
  const [items, setItems] = useState<SearchItem[] | null>(null);
  const [err, setErr] = useState<unknown>(null);
  const [active, setActive] = useState(0);
  const [open, setOpen] = useState(false);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const tgt = e.target as HTMLElement;
      if (e.key === '/' && !/^(INPUT|TEXTAREA|SELECT)$/.test(tgt.tagName)) {
        e.preventDefault();
        input.current?.focus();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  useEffect(() => {
    const query = q.trim();
    if (!query) {
      setItems(null);
      setErr(null);
      return;
    }
    const ctl = new AbortController();
    const timer = setTimeout(async () => {
      try {
        const r = await api<{ items: SearchItem[] }>('GET', `/api/v1/search?q=${encodeURIComponent(query)}`, undefined, {
          signal: ctl.signal,
        });
        setItems(r.data.items ?? []);
        setErr(null);
        setActive(0);
        setOpen(true);
      } catch (e) {
        if ((e as Error).name !== 'AbortError') {
          setErr(e);
          setOpen(true);
        }
      }
    }, 250);
    return () => {
      clearTimeout(timer);
      ctl.abort();
    };
  }, [q]);

  const go = (it: SearchItem) => {
    const href = hrefFor(it);
    if (!href) return;
    setOpen(false);
    setQ('');
    input.current?.blur();
    navigate(href);
  };

  const onKey = (e: KeyboardEvent) => {
    const n = items?.length ?? 0;
    if (e.key === 'ArrowDown' && n) {
      e.preventDefault();
      setOpen(true);
      setActive((a) => (a + 1) % n);
    } else if (e.key === 'ArrowUp' && n) {
      e.preventDefault();
      setActive((a) => (a - 1 + n) % n);
    } else if (e.key === 'Enter' && items && items[active]) {
      e.preventDefault();
      go(items[active]!);
    } else if (e.key === 'Escape') {
      setOpen(false);
      input.current?.blur();
    }
  };

  return (
    <div class="search" role="search">
      <input
        ref={input}
        id="search"
        type="search"
        role="combobox"
        list={undefined}
        aria-label={t('search.label')}
        aria-expanded={open}
        aria-controls="search-results"
        aria-activedescendant={open && items?.length ? `search-item-${active}` : undefined}
        autocomplete="off"
        placeholder={t('search.placeholder')}
        value={q}
        onInput={(e) => setQ(e.currentTarget.value)}
        onKeyDown={onKey}
        onFocus={() => items && setOpen(true)}
        onBlur={() => setTimeout(() => setOpen(false), 150)}
      />
      {open && (
        <ul id="search-results" role="listbox" class="search-results">
          {err !== null && <li class="error">{errorText(err)}</li>}
          {items && items.length === 0 && <li class="muted">{t('search.none', { q: q.trim() })}</li>}
          {items?.map((it, i) => (
            <li
              key={`${it.kind}-${it.id}`}
              id={`search-item-${i}`}
              role="option"
              aria-selected={i === active}
              class={i === active ? 'active' : ''}
              onMouseDown={(e) => {
                e.preventDefault();
                go(it);
              }}
            >
              <span class="tag">{kindLabel(it.kind)}</span>
              <strong>{it.title}</strong>
              {it.snippet && <span class="muted"> {it.snippet}</span>}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
