// Customer 360: the record (GET /api/v1/customers/{id}; the ID number comes masked and a
// supervisor or admin can reveal it with ?reveal=id_number), its timeline
// (GET /api/v1/customers/{id}/timeline), a chart of activity by channel (lazy ECharts) and, for
// admins, the PIPL card: the erasure check (GET …/erasure) and the anonymisation (POST …/anonymise).
import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorBox, Link, Loading } from '../components/common';
import { LazyBarChart } from '../components/LazyChart';
import { formatTime, t, type MessageKey } from '../i18n';
import { canReveal, useSession } from '../session';
import { customerName, type Customer } from './Customers';

/** One entry of GET /api/v1/customers/{id}/timeline: an interaction or a case. */
export interface TimelineItem {
  type: 'interaction' | 'case' | string;
  at: string;
  record: {
    id: number;
    kind?: string;
    channel?: string | null;
    subject?: string | null;
    status?: string;
    direction?: string;
    [k: string]: unknown;
  };
}

const KNOWN_FIELDS = [
  'kind', 'phones', 'emails', 'id_number', 'birthday', 'address', 'tags', 'owner_id', 'notes',
  'anonymised_at', 'created_at', 'updated_at',
];

function label(k: string): string {
  return KNOWN_FIELDS.includes(k) ? t(`field.${k}` as MessageKey) : k;
}

function value(k: string, v: unknown): string {
  if (v === null || v === undefined) return '';
  if (k.endsWith('_at')) return formatTime(String(v));
  if (k === 'kind' && (v === 'person' || v === 'company')) return t(`kind.${v}`);
  if (Array.isArray(v)) return v.join(', ');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function channelName(ch: string): string {
  return ['phone', 'email', 'counter', 'web', 'system'].includes(ch) ? t(`channel.${ch}` as MessageKey) : ch;
}

function entryKind(it: TimelineItem): string {
  const k = it.type === 'case' ? 'case' : it.record.kind ?? '';
  return ['case', 'call', 'email', 'visit', 'note'].includes(k) ? t(`timeline.${k}` as MessageKey) : k;
}

/** GET /api/v1/customers/{id}/erasure: what an anonymisation would still erase (counts). */
interface ErasureReport {
  customer_id: number;
  anonymised_at: string | null;
  complete: boolean;
  personal_fields: string[];
  counts: Record<string, number>;
}

const ERASING_COUNTS = [
  'events_erased', 'event_values_erased', 'audit_rows_redacted', 'cases_erased',
  'interactions_erased', 'notifications_redacted', 'measurements_erased',
] as const;

/** Admins: what Smile holds about the customer, and the anonymisation (PIPL Art. 47). */
function PiplCard(props: { c: Customer; base: string; onAnonymised: () => void }) {
  const [report, setReport] = useState<ErasureReport | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const anonymisedAt = (props.c as { anonymised_at?: string | null }).anonymised_at ?? null;

  const check = async () => {
    setError(null);
    setBusy(true);
    try {
      setReport((await api<ErasureReport>('GET', `${props.base}/erasure`)).data);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const anonymise = async () => {
    if (!confirm(t('pipl.confirm', { name: customerName(props.c), id: props.c.id }))) return;
    setError(null);
    setBusy(true);
    try {
      await api('POST', `${props.base}/anonymise`);
      props.onAnonymised();
      setReport((await api<ErasureReport>('GET', `${props.base}/erasure`)).data);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const left = report ? ERASING_COUNTS.filter((k) => (report.counts[k] ?? 0) > 0) : [];
  return (
    <section class="card" aria-labelledby="pipl-h" id="pipl">
      <h2 id="pipl-h">{t('pipl.title')}</h2>
      {anonymisedAt ? (
        <p id="pipl-anonymised">{t('pipl.anonymised', { at: formatTime(anonymisedAt) })}</p>
      ) : (
        <p class="muted">{t('pipl.intro')}</p>
      )}
      <p>
        <button type="button" id="pipl-check" disabled={busy} onClick={() => void check()}>
          {t('pipl.check')}
        </button>{' '}
        {!anonymisedAt && (
          <button type="button" class="danger" id="pipl-anonymise" disabled={busy} onClick={() => void anonymise()}>
            {t('pipl.anonymise')}
          </button>
        )}
      </p>
      {error !== null && <ErrorBox error={error} />}
      {report && report.complete && (
        <p class="ok" id="pipl-complete">
          {t('pipl.complete')}
        </p>
      )}
      {report && !report.complete && (
        <div id="pipl-report">
          <p>{t('pipl.incomplete')}</p>
          <dl class="fields">
            {report.personal_fields.length > 0 && (
              <div>
                <dt>{t('pipl.fields')}</dt>
                <dd>{report.personal_fields.map((f) => (f === 'name' ? t('field.name') : label(f))).join(', ')}</dd>
              </div>
            )}
            {left.map((k) => (
              <div key={k}>
                <dt>{t(`pipl.count.${k}` as MessageKey)}</dt>
                <dd id={`pipl-${k}`}>{report.counts[k]}</dd>
              </div>
            ))}
          </dl>
        </div>
      )}
    </section>
  );
}

export function Customer360(props: { id: string }) {
  const s = useSession();
  const [c, setC] = useState<Customer | null>(null);
  const [timeline, setTimeline] = useState<TimelineItem[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tlError, setTlError] = useState<unknown>(null);
  const [revealError, setRevealError] = useState<unknown>(null);
  const base = `/api/v1/customers/${encodeURIComponent(props.id)}`;

  const load = async () => {
    setError(null);
    try {
      setC((await api<Customer>('GET', base)).data);
    } catch (e) {
      setError(e);
    }
    try {
      const r = await api<{ items: TimelineItem[] }>('GET', `${base}/timeline`);
      setTimeline(r.data.items ?? []);
    } catch (e) {
      setTlError(e);
    }
  };

  useEffect(() => {
    setC(null);
    setTimeline(null);
    void load();
  }, [props.id]);

  const reveal = async () => {
    setRevealError(null);
    try {
      const r = await api<Customer>('GET', `${base}?reveal=id_number`);
      setC((old) => (old ? { ...old, id_number: r.data.id_number } : r.data));
    } catch (e) {
      setRevealError(e);
    }
  };

  if (error) return <ErrorBox error={error} onRetry={() => void load()} />;
  if (!c) return <Loading />;

  const byChannel = new Map<string, number>();
  for (const it of timeline ?? []) {
    const ch = it.record.channel ? channelName(it.record.channel) : '—';
    byChannel.set(ch, (byChannel.get(ch) ?? 0) + 1);
  }
  // Empty fields are left out; so are the name (the heading) and bookkeeping (id, version).
  const fields = Object.entries(c).filter(
    ([k, v]) =>
      !['id', 'name', 'display_name', 'version'].includes(k) &&
      v !== null &&
      v !== '' &&
      (Array.isArray(v) ? v.length > 0 : typeof v !== 'object'),
  );

  return (
    <section class="page c360">
      <header class="page-head">
        <Link href="/app/customers" class="back">
          ← {t('common.back')}
        </Link>
        <h1 id="customer-name">{customerName(c)}</h1>
        <span class="muted">#{c.id}</span>
      </header>
      <div class="grid-2">
        <section class="card" aria-labelledby="details-h">
          <h2 id="details-h">{t('customer.details')}</h2>
          <dl class="fields">
            {fields.map(([k, v]) => (
              <div key={k}>
                <dt>{label(k)}</dt>
                <dd class={k === 'id_number' ? 'mono' : ''} id={`field-${k}`}>
                  {value(k, v)}
                  {k === 'id_number' && canReveal(s) && typeof v === 'string' && v.includes('*') && (
                    <button type="button" class="small" id="reveal" title={t('customer.revealHint')} onClick={() => void reveal()}>
                      {t('customer.reveal')}
                    </button>
                  )}
                </dd>
              </div>
            ))}
          </dl>
          {revealError !== null && <ErrorBox error={revealError} />}
        </section>
        <section class="card" aria-labelledby="activity-h">
          <h2 id="activity-h">{t('customer.activity')}</h2>
          {timeline && timeline.length > 0 ? (
            <LazyBarChart label={t('customer.activity')} spec={{ categories: [...byChannel.keys()], values: [...byChannel.values()] }} />
          ) : (
            <p class="muted">{t('customer.timelineEmpty')}</p>
          )}
        </section>
      </div>
      {s?.user.role === 'admin' && <PiplCard c={c} base={base} onAnonymised={() => void load()} />}
      <section class="card" aria-labelledby="timeline-h">
        <h2 id="timeline-h">{t('customer.timeline')}</h2>
        {tlError !== null && <ErrorBox error={tlError} />}
        {timeline === null && tlError === null && <Loading />}
        {timeline && timeline.length === 0 && <p class="muted">{t('customer.timelineEmpty')}</p>}
        {timeline && timeline.length > 0 && (
          <ol class="timeline" id="timeline">
            {timeline.map((it, i) => (
              <li key={`${it.type}-${it.record.id ?? i}`}>
                <time dateTime={it.at}>{formatTime(it.at)}</time>
                <span class="tag">{entryKind(it)}</span>
                {it.type === 'case' ? (
                  <Link href={`/app/cases/${it.record.id}`}>{it.record.subject || `#${it.record.id}`}</Link>
                ) : (
                  <span>{it.record.subject ?? ''}</span>
                )}
                {it.record.channel && <span class="muted"> · {channelName(it.record.channel)}</span>}
              </li>
            ))}
          </ol>
        )}
      </section>
    </section>
  );
}
