// Administration: tabs for users and teams, calendars, processes and API tokens, each a
// screen over the existing JSON API. Loaded lazily (components/LazyAdmin.tsx).
import { Link } from '../../components/common';
import { t, type MessageKey } from '../../i18n';
import { Users } from './Users';
import { Calendars, CalendarEditor } from './Calendars';
import { Processes, ProcessEditor } from './Processes';
import { Tokens } from './Tokens';
// uimail: mailboxes
import { Mailboxes } from './Mailboxes';
import { useSession } from '../../session';
// uiadmin: scorecard templates and webhooks
import { ScorecardTemplates, ScorecardTemplateEditor } from './ScorecardTemplates';
import { Webhooks, WebhookEditor } from './Webhooks';
import { tu, type UKey } from '../../i18n/uiadmin';

const TABS: [string, MessageKey][] = [
  ['users', 'admin.tab.users'],
  ['calendars', 'admin.tab.calendars'],
  ['processes', 'admin.tab.processes'],
  ['tokens', 'admin.tab.tokens'],
  // uimail
  ['mailboxes', 'admin.tab.mailboxes'],
];
// uiadmin: tabs only administrators see (the API refuses the others)
const ADMIN_ONLY_TABS: [string, UKey][] = [
  ['scorecards', 'admin.tab.scorecards'],
  ['webhooks', 'admin.tab.webhooks'],
];

export function Admin(props: { section: string; id?: string }) {
  // mailboxes, scorecard templates and webhooks are for administrators only
  const isAdmin = useSession()?.user.role === 'admin';
  const { section, id } = props;
  let body;
  if (section === 'calendars') body = id ? <CalendarEditor id={id} key={id} /> : <Calendars />;
  else if (section === 'processes') body = id ? <ProcessEditor id={id} key={id} /> : <Processes />;
  else if (section === 'tokens') body = <Tokens />;
  // uimail
  else if (section === 'mailboxes') body = <Mailboxes id={id} key={id ?? 'list'} />;
  // uiadmin
  else if (section === 'scorecards' && isAdmin) body = id ? <ScorecardTemplateEditor id={id} key={id} /> : <ScorecardTemplates />;
  else if (section === 'webhooks' && isAdmin) body = id ? <WebhookEditor id={id} key={id} /> : <Webhooks />;
  else body = <Users />;
  return (
    <section class="page admin">
      <header class="page-head">
        <h1>{t('admin.title')}</h1>
      </header>
      <nav class="tabs" aria-label={t('admin.title')}>
        {TABS.filter(([s]) => s !== 'mailboxes' || isAdmin).map(([s, key]) => (
          <Link key={s} href={`/app/admin/${s}`} class={s === section ? 'active' : ''} id={`tab-${s}`}>
            {t(key)}
          </Link>
        ))}
        {/* uiadmin */}
        {isAdmin &&
          ADMIN_ONLY_TABS.map(([s, key]) => (
            <Link key={s} href={`/app/admin/${s}`} class={s === section ? 'active' : ''} id={`tab-${s}`}>
              {tu(key)}
            </Link>
          ))}
      </nav>
      {body}
    </section>
  );
}

/** The error for one JSON Pointer under a control, if any. */
export function FieldError(props: { errors: Record<string, string>; at: string }) {
  const e = props.errors[props.at];
  return e ? (
    <span class="field-error" role="alert" data-pointer={props.at}>
      {e}
    </span>
  ) : null;
}

/** Errors whose pointer no control shows (so none is lost). */
export function OtherErrors(props: { errors: Record<string, string>; shown: (p: string) => boolean }) {
  const rest = Object.entries(props.errors).filter(([p]) => !props.shown(p));
  if (!rest.length) return null;
  return (
    <ul class="field-error-list" role="alert">
      {rest.map(([p, d]) => (
        <li key={p}>
          <code>{p || '/'}</code> {d}
        </li>
      ))}
    </ul>
  );
}

/** A duration in ms as "2 d 3 h 15 min" (localised units). */
export function formatDuration(ms: number): string {
  const neg = ms < 0;
  let s = Math.round(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const parts: string[] = [];
  if (d) parts.push(t('dur.d', { n: d }));
  if (h) parts.push(t('dur.h', { n: h }));
  if (m) parts.push(t('dur.m', { n: m }));
  if (s || !parts.length) parts.push(t('dur.s', { n: s }));
  return (neg ? '−' : '') + parts.join(' ');
}

/** After a 422: brings the first field error into view once it has rendered. */
export function scrollToError() {
  requestAnimationFrame(() => document.querySelector('.field-error, .field-error-list')?.scrollIntoView({ block: 'center', behavior: 'smooth' }));
}

/** A message shown above a screen, kept as a key so that it follows a language switch. */
export type Notice = [MessageKey, Record<string, string | number>?] | null;
