// Customers list: GET /api/v1/customers?limit=&cursor= → {items, next_cursor}, paged with
// "Load more". j/k (or arrows) move the selection, Enter opens the customer.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorBox, Link, Loading } from '../components/common';
import { formatTime, t } from '../i18n';
import { navigate } from '../router';

export interface Customer {
  id: number;
  kind?: string;
  name?: string;
  display_name?: string;
  phones?: string[];
  emails?: string[];
  phone?: string;
  email?: string;
  id_number?: string;
  updated_at?: string;
  [k: string]: unknown;
}

export function customerName(c: Customer): string {
  return c.name || c.display_name || `#${c.id}`;
}

const PAGE = 50;

export function Customers() {
  const [items, setItems] = useState<Customer[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [sel, setSel] = useState(0);

  const load = async (from: string | null) => {
    setLoading(true);
    setError(null);
    try {
      const q = `/api/v1/customers?limit=${PAGE}` + (from ? `&cursor=${encodeURIComponent(from)}` : '');
      const r = await api<{ items: Customer[]; next_cursor: string | null }>('GET', q);
      setItems((old) => (from ? [...old, ...r.data.items] : r.data.items));
      setCursor(r.data.next_cursor ?? null);
    } catch (e) {
      setError(e);
    } finally {
      setLoading(false);
    }
  };

  useEffect(() => {
    void load(null);
  }, []);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (/^(INPUT|TEXTAREA|SELECT)$/.test((e.target as HTMLElement).tagName)) return;
      if (e.key === 'j' || e.key === 'ArrowDown') setSel((s) => Math.min(s + 1, items.length - 1));
      else if (e.key === 'k' || e.key === 'ArrowUp') setSel((s) => Math.max(s - 1, 0));
      else if (e.key === 'Enter' && items[sel] && (e.target as HTMLElement).tagName !== 'A' && (e.target as HTMLElement).tagName !== 'BUTTON')
        navigate(`/app/customers/${items[sel]!.id}`);
      else return;
      e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [items, sel]);

  return (
    <section class="page">
      <header class="page-head">
        <h1>{t('customers.title')}</h1>
        {items.length > 0 && <span class="muted">{t('customers.count', { n: items.length })}</span>}
      </header>
      {error !== null && <ErrorBox error={error} onRetry={() => void load(null)} />}
      {items.length > 0 && (
        <div class="table-wrap">
          <table class="list" id="customers">
            <thead>
              <tr>
                <th scope="col">{t('customers.name')}</th>
                <th scope="col">{t('customers.phone')}</th>
                <th scope="col" class="wide">{t('customers.email')}</th>
                <th scope="col" class="wide">{t('customers.idNumber')}</th>
                <th scope="col">{t('customers.updated')}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((c, i) => (
                <tr key={c.id} class={i === sel ? 'selected' : ''} aria-selected={i === sel}>
                  <td>
                    <Link href={`/app/customers/${c.id}`}>{customerName(c)}</Link>
                  </td>
                  <td>{c.phones?.[0] ?? c.phone ?? ''}</td>
                  <td class="wide">{c.emails?.[0] ?? c.email ?? ''}</td>
                  <td class="wide mono">{c.id_number ?? ''}</td>
                  <td>{formatTime(c.updated_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {!loading && !error && items.length === 0 && <p class="muted">{t('common.empty')}</p>}
      {loading && <Loading />}
      {cursor && !loading && (
        <button type="button" onClick={() => void load(cursor)}>
          {t('common.loadMore')}
        </button>
      )}
    </section>
  );
}
