// A record's history from the audit trail (GET /api/v1/audit?entity=&entity_id=, admins):
// newest first, each change with when, who, the action, the version it made and what
// changed — leaf by leaf as JSON Pointers ("/items/0/weight: 3 → 4"). A screen may offer to
// load an earlier version into its editor (onRestore); saving it then makes a new version.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../../api';
import { ErrorBox, Loading } from '../../components/common';
import { formatTime } from '../../i18n';
import { tu, type UKey } from '../../i18n/uiadmin';

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  actor_id: number | null;
  entity: string;
  entity_id: number | null;
  action: string;
  before: unknown;
  after: unknown;
}

/** Bookkeeping that changes on every save and says nothing about the change. */
const SKIP = new Set(['/version', '/updated_at', '/created_at', '/stats', '/id', '/secret_hint']);

function flatten(v: unknown, at: string, out: Map<string, string>) {
  if (SKIP.has(at)) return;
  if (v !== null && typeof v === 'object') {
    const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x] as const) : Object.entries(v as Record<string, unknown>);
    if (!entries.length) out.set(at, Array.isArray(v) ? '[]' : '{}');
    for (const [k, x] of entries) flatten(x, `${at}/${k}`, out);
  } else out.set(at, JSON.stringify(v));
}

/** The leaves that differ: [pointer, before or null, after or null]. */
export function changes(before: unknown, after: unknown): [string, string | null, string | null][] {
  const a = new Map<string, string>();
  const b = new Map<string, string>();
  if (before !== null && before !== undefined) flatten(before, '', a);
  if (after !== null && after !== undefined) flatten(after, '', b);
  const out: [string, string | null, string | null][] = [];
  for (const [k, v] of b) if (a.get(k) !== v) out.push([k, a.get(k) ?? null, v]);
  for (const [k, v] of a) if (!b.has(k)) out.push([k, v, null]);
  return out.sort((x, y) => x[0].localeCompare(y[0], 'en', { numeric: true }));
}

function version(v: unknown): number | null {
  const n = v && typeof v === 'object' ? (v as { version?: unknown }).version : undefined;
  return typeof n === 'number' ? n : null;
}

const ACTIONS = ['create', 'update', 'delete', 'rotate_secret', 'compute'];
const SHOW = 12; // changed leaves listed per entry before "and N more"

export function History(props: { entity: string; id: number; tick?: unknown; onRestore?: (after: unknown, version: number | null) => void; current?: number }) {
  const [items, setItems] = useState<AuditEntry[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [open, setOpen] = useState<Set<number>>(new Set());
  const url = (cursor?: string | null) => `/api/v1/audit?entity=${props.entity}&entity_id=${props.id}&limit=20${cursor ? `&cursor=${cursor}` : ''}`;
  useEffect(() => {
    api<{ items: AuditEntry[]; next_cursor: string | null }>('GET', url()).then(
      (r) => {
        setItems(r.data.items);
        setNext(r.data.next_cursor);
        setError(null);
      },
      setError,
    );
  }, [props.entity, props.id, props.tick]);
  const more = async () => {
    try {
      const r = await api<{ items: AuditEntry[]; next_cursor: string | null }>('GET', url(next));
      setItems([...(items ?? []), ...r.data.items]);
      setNext(r.data.next_cursor);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <section class="card history" id={`history-${props.entity}`}>
      <h2>{tu('hist.title')}</h2>
      {error !== null && <ErrorBox error={error} />}
      {!items ? (
        error === null && <Loading />
      ) : items.length === 0 ? (
        <p class="muted">{tu('hist.empty')}</p>
      ) : (
        <ol class="history-list">
          {items.map((e) => {
            const ch = e.action === 'compute' ? [] : changes(e.before, e.after);
            const v = version(e.after);
            const all = open.has(e.id);
            return (
              <li key={e.id} data-audit={e.id} data-action={e.action}>
                <div class="history-head">
                  <strong>{ACTIONS.includes(e.action) ? tu(`hist.action.${e.action}` as UKey) : e.action}</strong>
                  {v !== null && e.action !== 'delete' && <span class="tag history-version">{tu('hist.version', { v })}</span>}
                  {v !== null && v === props.current && <span class="muted small">{tu('hist.current')}</span>}
                  <span class="muted">{tu('hist.by', { who: e.actor, at: formatTime(e.at) })}</span>
                  {props.onRestore && e.after !== null && v !== null && v !== props.current && e.action !== 'delete' && (
                    <button type="button" class="small history-restore" onClick={() => props.onRestore?.(e.after, v)}>
                      {tu('hist.restore', { v })}
                    </button>
                  )}
                </div>
                {e.action === 'compute' && e.after !== null && typeof e.after === 'object' && (
                  <p class="small muted">{tu('hist.computed', { period: String((e.after as Record<string, unknown>).period ?? ''), n: String((e.after as Record<string, unknown>).computed ?? '') })}</p>
                )}
                {e.action === 'update' && ch.length === 0 && <p class="small muted">{tu('hist.noChange')}</p>}
                {e.action !== 'create' && e.action !== 'compute' && ch.length > 0 && (
                  <ul class="history-changes small">
                    {(all ? ch : ch.slice(0, SHOW)).map(([p, a, b]) => (
                      <li key={p}>
                        <code>{p}</code> <span class="old">{a ?? '—'}</span> → <span class="new">{b ?? '—'}</span>
                      </li>
                    ))}
                    {!all && ch.length > SHOW && (
                      <li>
                        <button type="button" class="small" onClick={() => setOpen(new Set([...open, e.id]))}>
                          {tu('hist.more', { n: ch.length - SHOW })}
                        </button>
                      </li>
                    )}
                  </ul>
                )}
              </li>
            );
          })}
        </ol>
      )}
      {next && (
        <button type="button" onClick={() => void more()}>
          {tu('common.loadMore')}
        </button>
      )}
    </section>
  );
}
