// The presence switch of the top bar: available / away / off for the signed-in user
// (GET and PUT /api/v1/users/{id}/presence, docs/work.md §3). Routing only picks members
// whose effective presence is "available".
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { t, type MessageKey } from '../i18n';
import { useSession } from '../session';

const STATES = ['available', 'away', 'off'] as const;

export function PresenceSwitch() {
  const s = useSession();
  const [v, setV] = useState<string>('');
  const [missing, setMissing] = useState(false);
  const uid = s?.user.id;
  useEffect(() => {
    if (!uid) return;
    api<{ presence: string }>('GET', `/api/v1/users/${uid}/presence`)
      .then((r) => setV(r.data.presence))
      .catch(() => setMissing(true));
  }, [uid]);
  if (!uid || missing || !v) return null;
  const change = async (e: Event) => {
    const next = (e.currentTarget as HTMLSelectElement).value;
    const before = v;
    setV(next);
    try {
      const r = await api<{ presence: string }>('PUT', `/api/v1/users/${uid}/presence`, { presence: next });
      setV(r.data?.presence ?? next);
    } catch {
      setV(before);
    }
  };
  return (
    <label class={`presence presence-${v}`}>
      <span class="dot" aria-hidden="true" />
      <span class="sr-only">{t('presence.label')}</span>
      <select id="presence" aria-label={t('presence.label')} value={v} onChange={(e) => void change(e)}>
        {STATES.map((p) => (
          <option key={p} value={p}>
            {t(`presence.${p}` as MessageKey)}
          </option>
        ))}
      </select>
    </label>
  );
}
