// Calendars: the list, and an editor for the version of a calendar in force last (weekly
// hours with several intervals a day, holidays, make-up working days, date overrides, ring
// cadence), saved whole with PATCH /api/v1/calendars/{id} and If-Match; a holiday notice
// imported with POST /api/v1/calendars/{id}/holidays (text/plain); and a preview of what
// "N business days / hours / rings from <time>" means on the saved calendar
// (GET /api/v1/calendars/{id}/add) and how much working time lies between two instants
// (GET /api/v1/calendars/{id}/diff). Times are entered and shown in the calendar's zone.
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, fieldErrors } from '../../api';
import { ErrorBox, Link, Loading } from '../../components/common';
import { formatTime, locale, t, type MessageKey } from '../../i18n';
import { useSession } from '../../session';
import { type Notice, FieldError, formatDuration, OtherErrors, scrollToError } from './Admin';
import { loadAll } from './Users';
import { Recompute } from './Recompute';

type Interval = [string, string];
interface CalVersion {
  effective_from: string;
  ring_ms?: number;
  week?: Partial<Record<Day, Interval[]>>;
  holidays?: string[];
  workdays?: string[];
  overrides?: Record<string, Interval[]>;
  [k: string]: unknown;
}
interface CalDoc {
  name?: string;
  description?: string;
  time_zone: string;
  versions: CalVersion[];
  [k: string]: unknown;
}
interface CalRec {
  id: number;
  name: string;
  version: number;
  updated_at: string;
  document: CalDoc;
}

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
type Day = (typeof DAYS)[number];

/** The State Council's 2026 notice (国务院办公厅, 2025-11-04) in the import format. */
export const CHINA_2026 = '2026 OFF 01-01..01-03 02-15..02-23 04-04..04-06 05-01..05-05 06-19..06-21 09-25..09-27 10-01..10-07\n2026 WORK 01-04 02-14 02-28 05-09 09-20 10-10\n';

export function Calendars() {
  const [cals, setCals] = useState<CalRec[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    loadAll<CalRec>('/api/v1/calendars').then(setCals, setError);
  }, []);
  if (error) return <ErrorBox error={error} />;
  if (!cals) return <Loading />;
  return (
    <section class="card">
      <h2>{t('cal.title')}</h2>
      <div class="table-wrap">
        <table class="list" id="calendars">
          <thead>
            <tr>
              <th scope="col">{t('proc.name')}</th>
              <th scope="col">{t('cal.zone')}</th>
              <th scope="col">{t('cal.holidays')}</th>
              <th scope="col">{t('proc.updated')}</th>
            </tr>
          </thead>
          <tbody>
            {cals.map((c) => {
              const v = c.document.versions[c.document.versions.length - 1];
              return (
                <tr key={c.id}>
                  <td>
                    <Link href={`/app/admin/calendars/${c.id}`}>{c.name}</Link>
                  </td>
                  <td class="mono">{c.document.time_zone}</td>
                  <td>{t('cal.count', { n: v?.holidays?.length ?? 0 })}</td>
                  <td>{formatTime(c.updated_at)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** Offset of zone from UTC at instant ms, in ms (Intl; no time-zone library needed). */
function zoneOffset(ms: number, zone: string): number {
  const p = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' }).formatToParts(new Date(ms));
  const g = (k: string) => Number(p.find((x) => x.type === k)?.value);
  return Date.UTC(g('year'), g('month') - 1, g('day'), g('hour'), g('minute'), g('second')) - Math.floor(ms / 1000) * 1000;
}

/** "2026-12-30T17:00" as wall time in zone → ISO UTC, or null if malformed. */
export function zonedToIso(local: string, zone: string): string | null {
  const guess = Date.parse(`${local}:00Z`);
  if (Number.isNaN(guess)) return null;
  let ms = guess - zoneOffset(guess, zone);
  ms = guess - zoneOffset(ms, zone);
  return new Date(ms).toISOString();
}

/** An instant shown in zone, in the UI's language. */
export function formatInZone(iso: string, zone: string): string {
  return new Date(iso).toLocaleString(locale(), { timeZone: zone, weekday: 'short', year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

function nowInZone(zone: string): string {
  const ms = Date.now();
  const d = new Date(ms + zoneOffset(ms, zone));
  d.setUTCMinutes(0, 0, 0);
  return d.toISOString().slice(0, 16);
}

function sortDates(a: string[]): string[] {
  return [...new Set(a)].sort();
}

export function CalendarEditor(props: { id: string }) {
  const s = useSession();
  const admin = s?.user.role === 'admin';
  const [rec, setRec] = useState<CalRec | null>(null);
  const [etag, setEtag] = useState<string | null>(null);
  const [doc, setDoc] = useState<CalDoc | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [notice, setNotice] = useState<Notice>(null);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(0); // bumps after each save: the preview re-asks

  const load = async () => {
    setError(null);
    try {
      const r = await api<CalRec>('GET', `/api/v1/calendars/${props.id}`);
      setRec(r.data);
      setEtag(r.etag);
      setDoc(structuredClone(r.data.document));
      setSaved((n) => n + 1);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => void load(), [props.id]);

  if (error && !doc) return <ErrorBox error={error} onRetry={() => void load()} />;
  if (!doc || !rec) return <Loading />;
  const vi = doc.versions.length - 1;
  const v = doc.versions[vi]!;
  const base = `/versions/${vi}`;
  const update = (fn: (v: CalVersion) => void) => {
    const d = structuredClone(doc);
    fn(d.versions[vi]!);
    setDoc(d);
  };

  const save = async () => {
    setBusy(true);
    setErrors({});
    setError(null);
    setNotice(null);
    try {
      const r = await api<CalRec>('PATCH', `/api/v1/calendars/${rec.id}`, doc, { ifMatch: etag });
      setRec(r.data);
      setEtag(r.etag);
      setDoc(structuredClone(r.data.document));
      setNotice(['admin.saved']);
      setSaved((n) => n + 1);
    } catch (e) {
      if (e instanceof ApiError && e.status === 412) {
        await load();
        setNotice(['admin.stale']);
      } else {
        setErrors(fieldErrors(e));
        setError(e);
        if (Object.keys(fieldErrors(e)).length) setNotice(['admin.invalid']);
        scrollToError();
      }
    } finally {
      setBusy(false);
    }
  };
  const shown = (p: string) => p.startsWith(`${base}/week/`) || p.startsWith(`${base}/holidays`) || p.startsWith(`${base}/workdays`) || p.startsWith(`${base}/overrides`) || p === `${base}/ring_ms`;

  return (
    <div class="admin-body calendar-editor">
      <header class="page-head">
        <Link href="/app/admin/calendars" class="back">
          ← {t('cal.title')}
        </Link>
        <h2 id="calendar-name">{rec.name}</h2>
        <span class="muted mono">{doc.time_zone}</span>
        <span class="muted">
          {t('cal.versionFrom', { date: v.effective_from })} {doc.versions.length > 1 && t('cal.versions', { n: doc.versions.length })}
        </span>
      </header>
      {notice && (
        <p class={Object.keys(errors).length ? 'notice' : 'notice ok'} role="status" id="calendar-notice">
          {t(notice[0], notice[1])}
        </p>
      )}
      <div class="grid-2">
        <section class="card" id="week">
          <h3>{t('cal.week')}</h3>
          {DAYS.map((day) => {
            const ivs = v.week?.[day] ?? [];
            return (
              <div class="day-row" key={day} data-day={day}>
                <span class="day-name">{t(`cal.day.${day}` as MessageKey)}</span>
                <div class="intervals">
                  {ivs.length === 0 && <span class="muted">{t('cal.closed')}</span>}
                  {ivs.map((iv, i) => (
                    <span class="interval" key={i}>
                      <input type="time" value={iv[0]} aria-label={`${t(`cal.day.${day}` as MessageKey)} ${t('cal.from')}`} disabled={!admin} onInput={(e) => update((x) => void (x.week![day]![i]![0] = e.currentTarget.value))} />
                      –
                      <input type="time" value={iv[1]} aria-label={`${t(`cal.day.${day}` as MessageKey)} ${t('cal.to')}`} disabled={!admin} onInput={(e) => update((x) => void (x.week![day]![i]![1] = e.currentTarget.value))} />
                      {admin && (
                        <button type="button" class="small icon" aria-label={t('admin.remove')} onClick={() => update((x) => void x.week![day]!.splice(i, 1))}>
                          ×
                        </button>
                      )}
                      <FieldError errors={errors} at={`${base}/week/${day}/${i}`} />
                    </span>
                  ))}
                  {admin && (
                    <button
                      type="button"
                      class="small"
                      onClick={() =>
                        update((x) => {
                          x.week ??= {};
                          const l = (x.week[day] ??= []);
                          const last = l[l.length - 1];
                          l.push(last ? [last[1] < '23:00' ? last[1] : '22:00', '23:00'] : ['09:00', '18:00']);
                        })
                      }
                    >
                      + {t('cal.addInterval')}
                    </button>
                  )}
                  <FieldError errors={errors} at={`${base}/week/${day}`} />
                </div>
              </div>
            );
          })}
          <label class="ring">
            {t('cal.ring')}
            <input
              id="ring-seconds"
              type="number"
              min="1"
              max="60"
              step="0.5"
              value={(v.ring_ms ?? 5000) / 1000}
              disabled={!admin}
              onInput={(e) => update((x) => void (x.ring_ms = Math.round(Number(e.currentTarget.value) * 1000)))}
            />
            <FieldError errors={errors} at={`${base}/ring_ms`} />
          </label>
        </section>
        <Preview calId={rec.id} zone={doc.time_zone} saved={saved} />
      </div>
      <div class="grid-2">
        <DateList title={t('cal.holidays')} id="holidays" items={v.holidays ?? []} admin={admin} errors={errors} at={`${base}/holidays`} ranges onChange={(l) => update((x) => void (x.holidays = l))} />
        <DateList title={t('cal.workdays')} hint={t('cal.workdaysHint')} id="workdays" items={v.workdays ?? []} admin={admin} errors={errors} at={`${base}/workdays`} onChange={(l) => update((x) => void (x.workdays = l))} />
      </div>
      <div class="grid-2">
        <Overrides items={v.overrides ?? {}} admin={admin} errors={errors} at={`${base}/overrides`} onChange={(o) => update((x) => void (x.overrides = o))} />
        {admin && <ImportNotice calId={rec.id} etag={etag} onDone={() => void load().then(() => setNotice(['cal.imported']))} />}
      </div>
      <OtherErrors errors={errors} shown={shown} />
      {error !== null && !Object.keys(errors).length && <ErrorBox error={error} />}
      {admin && <Recompute kind="calendar" id={rec.id} />}
      {admin && (
        <div class="actions sticky-actions">
          <button type="button" onClick={() => void load()} disabled={busy}>
            {t('common.cancel')}
          </button>
          <button type="button" class="primary" id="calendar-save" onClick={() => void save()} disabled={busy}>
            {t('cal.save')}
          </button>
        </div>
      )}
    </div>
  );
}

function DateList(props: { title: string; hint?: string; id: string; items: string[]; admin: boolean; errors: Record<string, string>; at: string; ranges?: boolean; onChange: (l: string[]) => void }) {
  const [from, setFrom] = useState('');
  const [until, setUntil] = useState('');
  const add = (e: Event) => {
    e.preventDefault();
    if (!from) return;
    props.onChange(sortDates([...props.items, until && until > from ? `${from}..${until}` : from]));
    setFrom('');
    setUntil('');
  };
  return (
    <section class="card" id={props.id}>
      <h3>
        {props.title} <span class="muted">({props.items.length})</span>
      </h3>
      {props.hint && <p class="muted">{props.hint}</p>}
      <ul class="chips">
        {props.items.map((d, i) => (
          <li key={d} data-date={d}>
            <span class="mono">{d.replace('..', ' – ')}</span>
            {props.admin && (
              <button type="button" class="icon" aria-label={`${t('admin.remove')} ${d}`} onClick={() => props.onChange(props.items.filter((x) => x !== d))}>
                ×
              </button>
            )}
            <FieldError errors={props.errors} at={`${props.at}/${i}`} />
          </li>
        ))}
      </ul>
      <FieldError errors={props.errors} at={props.at} />
      {props.admin && (
        <form class="inline" onSubmit={add}>
          <label>
            <span class="sr-only">{t('cal.date')}</span>
            <input type="date" id={`${props.id}-from`} value={from} onInput={(e) => setFrom(e.currentTarget.value)} aria-label={`${props.title} ${t('cal.date')}`} />
          </label>
          {props.ranges && (
            <label>
              <span class="sr-only">{t('cal.until')}</span>
              <input type="date" id={`${props.id}-until`} value={until} onInput={(e) => setUntil(e.currentTarget.value)} aria-label={t('cal.until')} title={t('cal.until')} />
            </label>
          )}
          <button type="submit" id={`${props.id}-add`}>
            {t('admin.add')}
          </button>
        </form>
      )}
    </section>
  );
}

function parseHours(s: string): Interval[] | null {
  const out: Interval[] = [];
  for (const part of s.split(/[,，;]/).map((x) => x.trim()).filter(Boolean)) {
    const m = /^(\d{1,2}:\d\d)\s*[-–~]\s*(\d{1,2}:\d\d)$/.exec(part);
    if (!m) return null;
    out.push([m[1]!.padStart(5, '0'), m[2]!.padStart(5, '0')]);
  }
  return out;
}

function Overrides(props: { items: Record<string, Interval[]>; admin: boolean; errors: Record<string, string>; at: string; onChange: (o: Record<string, Interval[]>) => void }) {
  const [date, setDate] = useState('');
  const [hours, setHours] = useState('');
  const [bad, setBad] = useState(false);
  const keys = Object.keys(props.items).sort();
  const add = (e: Event) => {
    e.preventDefault();
    const h = parseHours(hours);
    if (!date || !h) return setBad(true);
    setBad(false);
    props.onChange({ ...props.items, [date]: h });
    setDate('');
    setHours('');
  };
  return (
    <section class="card" id="overrides">
      <h3>{t('cal.overrides')}</h3>
      <p class="muted">{t('cal.overrideHint')}</p>
      <ul class="chips">
        {keys.map((d) => (
          <li key={d}>
            <span class="mono">{d}</span>: {props.items[d]!.length ? props.items[d]!.map((iv) => iv.join('–')).join(', ') : t('cal.closed')}
            {props.admin && (
              <button
                type="button"
                class="icon"
                aria-label={`${t('admin.remove')} ${d}`}
                onClick={() => {
                  const o = { ...props.items };
                  delete o[d];
                  props.onChange(o);
                }}
              >
                ×
              </button>
            )}
            <FieldError errors={props.errors} at={`${props.at}/${d}`} />
          </li>
        ))}
      </ul>
      {props.admin && (
        <form class="inline" onSubmit={add}>
          <input type="date" value={date} aria-label={t('cal.date')} onInput={(e) => setDate(e.currentTarget.value)} />
          <input value={hours} placeholder="09:00-12:00" aria-label={t('cal.hours')} onInput={(e) => setHours(e.currentTarget.value)} />
          <button type="submit">{t('admin.add')}</button>
        </form>
      )}
      {bad && <span class="field-error">{t('cal.overrideHint')}</span>}
    </section>
  );
}

function ImportNotice(props: { calId: number; etag: string | null; onDone: () => void }) {
  const [text, setText] = useState('');
  const [from, setFrom] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setErrors({});
    try {
      const q = from ? `?effective_from=${encodeURIComponent(from)}` : '';
      await api('POST', `/api/v1/calendars/${props.calId}/holidays${q}`, undefined, { text: { body: text, type: 'text/plain; charset=utf-8' }, ifMatch: props.etag });
      setText('');
      props.onDone();
    } catch (x) {
      setErrors(fieldErrors(x));
      setError(x);
    }
  };
  return (
    <section class="card" id="import">
      <h3>{t('cal.import')}</h3>
      <p class="muted">{t('cal.importHint')}</p>
      <form onSubmit={submit} class="stack">
        <textarea id="import-text" rows={4} class="mono" value={text} onInput={(e) => setText(e.currentTarget.value)} />
        <label>
          {t('cal.effectiveFrom')}
          <input type="date" id="import-from" value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
          <span class="muted">{t('cal.effectiveFromHint')}</span>
          <FieldError errors={errors} at="/query/effective_from" />
        </label>
        <OtherErrors errors={errors} shown={(p) => p === '/query/effective_from'} />
        {error !== null && !Object.keys(errors).length && <ErrorBox error={error} />}
        <div class="actions">
          <button type="button" id="import-china" onClick={() => setText(CHINA_2026)}>
            {t('cal.importChina')}
          </button>
          <button type="submit" id="import-submit" disabled={!text.trim()}>
            {t('cal.importDo')}
          </button>
        </div>
      </form>
    </section>
  );
}

const UNITS: [string, MessageKey][] = [
  ['business days', 'cal.unit.bdays'],
  ['business hours', 'cal.unit.bhours'],
  ['business minutes', 'cal.unit.bmin'],
  ['rings', 'cal.unit.rings'],
  ['h', 'cal.unit.hours'],
];

interface AddResult {
  start: string;
  duration: string;
  end: string;
  business_ms: number;
  wall_ms: number;
}

function Preview(props: { calId: number; zone: string; saved: number }) {
  const [start, setStart] = useState(() => nowInZone(props.zone));
  const [amount, setAmount] = useState('3');
  const [unit, setUnit] = useState('business days');
  const [res, setRes] = useState<AddResult | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [to, setTo] = useState('');
  const [diff, setDiff] = useState<{ business_ms: number; wall_ms: number } | null>(null);

  useEffect(() => {
    const iso = zonedToIso(start, props.zone);
    const n = Number(amount);
    if (!iso || !(n >= 0)) {
      setRes(null);
      return;
    }
    const dur = unit === 'h' ? `${n}h` : `${n} ${unit}`;
    const ctl = new AbortController();
    api<AddResult>('GET', `/api/v1/calendars/${props.calId}/add?start=${encodeURIComponent(iso)}&duration=${encodeURIComponent(dur)}`, undefined, { signal: ctl.signal }).then(
      (r) => {
        setRes(r.data);
        setError(null);
      },
      (e) => {
        if ((e as Error).name !== 'AbortError') {
          setRes(null);
          setError(e);
        }
      },
    );
    return () => ctl.abort();
  }, [start, amount, unit, props.saved]);

  useEffect(() => {
    const a = zonedToIso(start, props.zone);
    const b = to && zonedToIso(to, props.zone);
    if (!a || !b) return setDiff(null);
    const ctl = new AbortController();
    api<{ business_ms: number; wall_ms: number }>('GET', `/api/v1/calendars/${props.calId}/diff?from=${encodeURIComponent(a)}&to=${encodeURIComponent(b)}`, undefined, { signal: ctl.signal }).then(
      (r) => setDiff(r.data),
      () => setDiff(null),
    );
    return () => ctl.abort();
  }, [start, to, props.saved]);

  return (
    <section class="card preview" id="preview">
      <h3>{t('cal.preview')}</h3>
      <p class="muted">{t('cal.previewHint')}</p>
      <div class="form-grid">
        <label>
          {t('cal.start')}
          <input id="preview-start" type="datetime-local" value={start} onInput={(e) => setStart(e.currentTarget.value)} />
        </label>
        <label>
          {t('cal.amount')}
          <input id="preview-amount" type="number" min="0" value={amount} onInput={(e) => setAmount(e.currentTarget.value)} />
        </label>
        <label>
          {t('cal.unit')}
          <select id="preview-unit" value={unit} onChange={(e) => setUnit(e.currentTarget.value)}>
            {UNITS.map(([u, k]) => (
              <option key={u} value={u}>
                {t(k)}
              </option>
            ))}
          </select>
        </label>
      </div>
      {res && (
        <p class="preview-result" id="preview-result" data-end={res.end}>
          {t('cal.previewResult', { end: formatInZone(res.end, props.zone), zone: props.zone, business: formatDuration(res.business_ms), wall: formatDuration(res.wall_ms) })}
        </p>
      )}
      {!res && error !== null && <ErrorBox error={error} />}
      <h4>{t('cal.diff')}</h4>
      <div class="form-grid">
        <label>
          {t('cal.to')}
          <input id="diff-to" type="datetime-local" value={to} onInput={(e) => setTo(e.currentTarget.value)} />
        </label>
      </div>
      {diff && (
        <p class="preview-result" id="diff-result">
          {t('cal.diffResult', { business: formatDuration(diff.business_ms), wall: formatDuration(diff.wall_ms) })}
        </p>
      )}
    </section>
  );
}
