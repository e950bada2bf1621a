// The notification bell of the top bar: the unread count, and on click the caller's latest
// notifications (GET /api/v1/notifications) with "mark read" per item and "read all"
// (POST /api/v1/notifications/{id}/read, /read-all). New notifications arrive over the live
// stream (live.ts) and raise the count without a reload. Titles and bodies come from the
// API in both languages; the one of the current locale is shown.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../api';
import { formatTime, locale, t } from '../i18n';
import { useLive, type LiveKind } from '../live';
import { navigate } from '../router';

interface Texts {
  en?: string;
  zh?: string;
}
export interface Notification {
  id: number;
  kind: string;
  title: Texts;
  body?: Texts;
  case_id?: number | null;
  created_at?: string;
  read_at?: string | null;
}

/** The text of the current locale (Chinese for zh-CN), else the other one. */
export function pick(x: Texts | undefined): string {
  if (!x) return '';
  return (locale() === 'zh-CN' ? x.zh || x.en : x.en || x.zh) ?? '';
}

export function Bell() {
  const [items, setItems] = useState<Notification[]>([]);
  const [unread, setUnread] = useState(0);
  const [open, setOpen] = useState(false);
  const [failed, setFailed] = useState(false);
  const ref = useRef<HTMLDivElement>(null);

  const load = useCallback(async () => {
    try {
      const r = await api<{ items: Notification[]; unread: number }>('GET', '/api/v1/notifications?limit=20');
      setItems(r.data.items ?? []);
      setUnread(r.data.unread ?? 0);
      setFailed(false);
    } catch {
      setFailed(true);
    }
  }, []);
  useEffect(() => void load(), []);

  const onLive = useCallback((kind: LiveKind, data: Record<string, unknown>) => {
    if (kind !== 'notification') return;
    const n = data as unknown as Notification;
    setItems((xs) => (xs.some((x) => x.id === n.id) ? xs : [n, ...xs].slice(0, 50)));
    if (!n.read_at) setUnread((u) => u + 1);
  }, []);
  useLive(onLive);

  useEffect(() => {
    if (!open) return;
    const close = (e: MouseEvent) => {
      if (!ref.current?.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('mousedown', close);
    return () => document.removeEventListener('mousedown', close);
  }, [open]);

  const markRead = async (n: Notification) => {
    if (!n.read_at) {
      try {
        await api('POST', `/api/v1/notifications/${n.id}/read`);
      } catch {
        /* shown as unread still */
      }
      await load();
    }
  };
  const readAll = async () => {
    try {
      await api('POST', '/api/v1/notifications/read-all');
    } finally {
      await load();
    }
  };

  return (
    <div class="bell" ref={ref}>
      <button
        type="button"
        id="bell"
        aria-haspopup="true"
        aria-expanded={open}
        aria-label={t('notif.bell', { n: unread })}
        title={t('notif.bell', { n: unread })}
        onClick={() => {
          setOpen(!open);
          if (!open) void load();
        }}
      >
        <svg aria-hidden="true" width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2">
          <path d="M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9" />
          <path d="M10.3 21a1.94 1.94 0 0 0 3.4 0" />
        </svg>
        {unread > 0 && (
          <span class="badge" id="bell-count">
            {unread}
          </span>
        )}
      </button>
      {open && (
        <div class="notif-panel card" role="region" aria-label={t('notif.title')}>
          <div class="notif-head">
            <strong>{t('notif.title')}</strong>
            <button type="button" class="small" id="notif-read-all" disabled={unread === 0} onClick={() => void readAll()}>
              {t('notif.readAll')}
            </button>
          </div>
          {failed && <p class="muted">{t('notif.unavailable')}</p>}
          {!failed && items.length === 0 && <p class="muted">{t('notif.none')}</p>}
          <ul class="notif-list">
            {items.map((n) => (
              <li key={n.id} class={n.read_at ? 'read' : 'unread'}>
                <button
                  type="button"
                  class="notif-item"
                  onClick={() => {
                    void markRead(n);
                    if (n.case_id) {
                      setOpen(false);
                      navigate(`/app/cases/${n.case_id}`);
                    }
                  }}
                >
                  <span class="notif-title">
                    {!n.read_at && <span class="sr-only">{t('notif.unread')} </span>}
                    {pick(n.title)}
                  </span>
                  <span class="notif-body muted">{pick(n.body)}</span>
                  <span class="notif-time muted">{formatTime(n.created_at)}</span>
                </button>
                {!n.read_at && (
                  <button type="button" class="small" onClick={() => void markRead(n)}>
                    {t('notif.markRead')}
                  </button>
                )}
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}
