// Mailboxes (uimail): the customer mailboxes Smile reads over IMAP and answers over SMTP
// (docs/mail.md). A list with each mailbox's health (last poll, last good poll, last
// error, imported count, UIDVALIDITY / last UID), "Poll now" (which also tests the IMAP
// connection and login), enable / disable and disconnect; a form to connect one or edit
// it. Passwords are write-only: the API never returns them (has_password says whether one
// is set), so the form only has "set a new password" fields, sent when filled in.
// GET/POST /api/v1/mailboxes, GET/PATCH/DELETE /api/v1/mailboxes/{id} (If-Match),
// POST /api/v1/mailboxes/{id}/poll; GET /api/v1/teams and /api/v1/processes for the
// team and the processes a mailbox's mail feeds.
import { useEffect, useState } from 'preact/hooks';
import '../mail.css';
import { api, ApiError, fieldErrors } from '../../api';
import { ErrorBox, Link, Loading } from '../../components/common';
import { formatTime, t, type MessageKey } from '../../i18n';
import { useSession } from '../../session';
import { FieldError, OtherErrors, scrollToError, type Notice } from './Admin';
import { loadAll, teamLabel, type TeamRec } from './Users';
import { tu } from '../../i18n/uiadmin';

export interface MailboxRec {
  id: number;
  name: string;
  imap_url: string;
  username: string;
  smtp_url: string | null;
  smtp_username: string | null;
  from_address: string;
  from_name: string;
  team_id: number | null;
  case_type: string;
  tag_prefix: string;
  active: boolean;
  poll_seconds: number;
  import_existing: boolean;
  max_bytes: number;
  has_password: boolean;
  has_smtp_password?: boolean;
  uidvalidity: number | null;
  last_uid: number;
  last_poll_at: string | null;
  last_ok_at: string | null;
  last_error: string | null;
  imported: number;
  version: number;
}

interface PollResult {
  imported: number;
  automatic: number;
  duplicates: number;
  skipped: number;
  failed: number;
  uidvalidity: number;
  last_uid: number;
}

interface ProcRec {
  id: number;
  name: string;
  draft?: { trigger?: { type?: string; where?: Record<string, unknown> } };
}

const CASE_TYPES = ['inquiry', 'complaint', 'repair', 'handover', 'other'];

/** A server URL split for the form: imaps://host:993/INBOX → {tls, host, port, folder}. */
export interface ServerUrl {
  tls: boolean; // true: TLS from the first byte (imaps/smtps); false: STARTTLS
  host: string;
  port: string;
  folder: string;
}

export function splitUrl(url: string | null | undefined, scheme: 'imap' | 'smtp'): ServerUrl {
  const m = /^([a-z]+):\/\/(\[[^\]]*\]|[^/:]*)(?::(\d+))?(?:\/(.*))?$/i.exec(url ?? '');
  if (!m) return { tls: true, host: '', port: '', folder: scheme === 'imap' ? 'INBOX' : '' };
  return { tls: m[1]!.toLowerCase() === `${scheme}s`, host: m[2] ?? '', port: m[3] ?? '', folder: m[4] ? decodeURIComponent(m[4]) : scheme === 'imap' ? 'INBOX' : '' };
}

/** The URL for the API: imaps://host[:port]/FOLDER; the folder is percent-encoded (spaces, 中文). */
export function joinUrl(u: ServerUrl, scheme: 'imap' | 'smtp'): string {
  const host = u.host.trim();
  const port = u.port.trim() ? `:${u.port.trim()}` : '';
  // Segment by segment, so that a nested folder (INBOX/Service) keeps its slashes and an
  // unchanged mailbox reads back the same URL (a changed imap_url starts the folder over).
  const folder = scheme === 'imap' ? `/${(u.folder.trim() || 'INBOX').split('/').map(encodeURIComponent).join('/')}` : '';
  return `${scheme}${u.tls ? 's' : ''}://${host}${port}${folder}`;
}

/** The processes that measure this mailbox's mail: email.received ones, and case.opened
 *  ones whose `where` the mailbox's new cases match (type, channel email). */
export function feeds(procs: ProcRec[], caseType: string): ProcRec[] {
  return procs.filter((p) => {
    const tr = p.draft?.trigger;
    if (!tr?.type) return false;
    if (tr.type === 'email.received') return true;
    if (tr.type !== 'case.opened') return false;
    return Object.entries(tr.where ?? {}).every(([k, v]) => {
      if (k === 'data.type' || k === 'type') return v === caseType;
      if (k === 'channel' || k === 'data.channel') return v === 'email';
      return false;
    });
  });
}

function health(mb: MailboxRec): { cls: string; key: MessageKey } {
  if (!mb.active) return { cls: 'off', key: 'mbx.state.disabled' };
  if (!mb.last_poll_at) return { cls: '', key: 'mbx.state.never' };
  if (mb.last_error) return { cls: 'bad', key: 'mbx.state.error' };
  return { cls: 'good', key: 'mbx.state.ok' };
}

export function Mailboxes(props: { id?: string }) {
  const s = useSession();
  const admin = s?.user.role === 'admin';
  const [boxes, setBoxes] = useState<MailboxRec[] | null>(null);
  const [teams, setTeams] = useState<TeamRec[]>([]);
  const [procs, setProcs] = useState<ProcRec[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<Notice>(null);
  const [polled, setPolled] = useState<Record<number, PollResult | { error: string }>>({});
  const [busy, setBusy] = useState<number | null>(null);

  const load = async () => {
    setError(null);
    try {
      const [mb, tm] = await Promise.all([api<{ items: MailboxRec[] }>('GET', '/api/v1/mailboxes'), loadAll<TeamRec>('/api/v1/teams')]);
      setBoxes(mb.data.items ?? []);
      setTeams(tm);
    } catch (e) {
      setError(e);
    }
    loadAll<ProcRec>('/api/v1/processes')
      .then(setProcs)
      .catch(() => setProcs([]));
  };
  useEffect(() => void load(), []);

  const poll = async (mb: MailboxRec) => {
    setBusy(mb.id);
    setNotice(null);
    try {
      const r = await api<PollResult>('POST', `/api/v1/mailboxes/${mb.id}/poll`, {});
      setPolled({ ...polled, [mb.id]: r.data });
    } catch (e) {
      // 502: the IMAP server could not be reached or refused the login — its words.
      setPolled({ ...polled, [mb.id]: { error: e instanceof ApiError ? e.message : String(e) } });
    }
    setBusy(null);
    await load();
  };

  const setActive = async (mb: MailboxRec, active: boolean) => {
    setNotice(null);
    setError(null);
    try {
      const cur = await api<MailboxRec>('GET', `/api/v1/mailboxes/${mb.id}`);
      await api('PATCH', `/api/v1/mailboxes/${mb.id}`, { active }, { ifMatch: cur.etag });
      setNotice([active ? 'mbx.enabled' : 'mbx.disabled', { name: mb.name }]);
      await load();
    } catch (e) {
      setError(e);
    }
  };

  const remove = async (mb: MailboxRec) => {
    if (!confirm(t('mbx.confirmDelete', { name: mb.name }))) return;
    setNotice(null);
    setError(null);
    try {
      const cur = await api<MailboxRec>('GET', `/api/v1/mailboxes/${mb.id}`);
      await api('DELETE', `/api/v1/mailboxes/${mb.id}`, undefined, { ifMatch: cur.etag });
      setNotice(['mbx.deleted', { name: mb.name }]);
      await load();
    } catch (e) {
      setError(e);
    }
  };

  if (!boxes) return error ? <ErrorBox error={error} onRetry={() => void load()} /> : <Loading />;
  if (props.id) {
    const mb = props.id === 'new' ? null : boxes.find((b) => String(b.id) === props.id);
    if (props.id !== 'new' && !mb) return <ErrorBox error={new ApiError(404, {}, `/api/v1/mailboxes/${props.id}`)} />;
    return <MailboxForm mb={mb ?? null} teams={teams} procs={procs} admin={admin} key={props.id} />;
  }
  const teamById = new Map(teams.map((x) => [x.id, x]));
  return (
    <div class="admin-body">
      {notice && (
        <p class="notice ok" role="status" id="mbx-notice">
          {t(notice[0], notice[1])}
        </p>
      )}
      {error !== null && <ErrorBox error={error} />}
      {boxes
        .filter((mb) => polled[mb.id])
        .map((mb) => {
          const pr = polled[mb.id]!;
          return (
            <p key={mb.id} class={`notice ${'error' in pr ? 'poll-error' : 'ok'}`} role="status" data-poll={mb.name}>
              <strong>{mb.name}</strong>: {'error' in pr ? t('mbx.pollFailed', { detail: pr.error }) : t('mbx.pollDone', { imported: pr.imported, duplicates: pr.duplicates, automatic: pr.automatic, skipped: pr.skipped, failed: pr.failed })}
            </p>
          );
        })}
      <section class="card">
        <h2>{t('mbx.title')}</h2>
        <p class="muted">{t('mbx.intro')}</p>
        {boxes.length === 0 ? (
          <p class="muted" id="mbx-empty">
            {t('mbx.none')}
          </p>
        ) : (
          <div class="table-wrap">
            <table class="list" id="mailboxes">
              <thead>
                <tr>
                  <th scope="col">{t('mbx.name')}</th>
                  <th scope="col">{t('mbx.servers')}</th>
                  <th scope="col">{t('mbx.team')}</th>
                  <th scope="col">{t('mbx.health')}</th>
                  <th scope="col">{t('mbx.lastPoll')}</th>
                  <th scope="col">{t('mbx.imported')}</th>
                  <th scope="col">{t('mbx.uidState')}</th>
                  <th scope="col" />
                </tr>
              </thead>
              <tbody>
                {boxes.map((mb) => {
                  const h = health(mb);
                  const imap = splitUrl(mb.imap_url, 'imap');
                  const smtp = mb.smtp_url ? splitUrl(mb.smtp_url, 'smtp') : null;
                  return (
                    <tr key={mb.id} data-mailbox={mb.name} class={mb.active ? '' : 'disabled'}>
                      <td>
                        <Link href={`/app/admin/mailboxes/${mb.id}`}>{mb.name}</Link>
                        <div class="muted small-text">{mb.from_name ? `${mb.from_name} <${mb.from_address}>` : mb.from_address}</div>
                      </td>
                      <td class="small-text">
                        <div>
                          IMAP <span class="mono">{imap.host}{imap.port && `:${imap.port}`}/{imap.folder}</span> {imap.tls ? 'TLS' : 'STARTTLS'}
                        </div>
                        <div>{smtp ? <>SMTP <span class="mono">{smtp.host}{smtp.port ? `:${smtp.port}` : ''}</span> {smtp.tls ? 'TLS' : 'STARTTLS'}</> : t('mbx.noSmtp')}</div>
                      </td>
                      <td>
                        {teamLabel(mb.team_id ? teamById.get(mb.team_id) : undefined)}
                        <div class="muted small-text">{t(`case.type.${mb.case_type}` as MessageKey)}</div>
                      </td>
                      <td class="mbx-health">
                        <span class={`tag ${h.cls}`}>{t(h.key)}</span>
                        {mb.last_error && (
                          <div class="field-error mbx-error" title={mb.last_error}>
                            {mb.last_error}
                          </div>
                        )}
                        {mb.last_ok_at && <div class="muted small-text">{t('mbx.lastOk', { at: formatTime(mb.last_ok_at) })}</div>}
                      </td>
                      <td>
                        {mb.last_poll_at ? formatTime(mb.last_poll_at) : <span class="muted">{t('tokens.never')}</span>}
                        <div class="muted small-text">{t('mbx.every', { n: mb.poll_seconds })}</div>
                      </td>
                      <td>{mb.imported}</td>
                      <td class="mono small-text">
                        {mb.uidvalidity === null ? '—' : `${mb.uidvalidity} / ${mb.last_uid}`}
                      </td>
                      <td class="row-actions">
                        {admin && (
                          <>
                            <button type="button" class="small" disabled={busy === mb.id} onClick={() => void poll(mb)} aria-label={`${t('mbx.pollNow')} ${mb.name}`}>
                              {busy === mb.id ? t('mbx.polling') : t('mbx.pollNow')}
                            </button>
                            <button type="button" class="small" onClick={() => void setActive(mb, !mb.active)} aria-label={`${mb.active ? t('mbx.disable') : t('mbx.enable')} ${mb.name}`}>
                              {mb.active ? t('mbx.disable') : t('mbx.enable')}
                            </button>
                            <button type="button" class="small danger" onClick={() => void remove(mb)} aria-label={`${t('mbx.delete')} ${mb.name}`}>
                              {t('mbx.delete')}
                            </button>
                          </>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
        {admin ? (
          <div class="actions">
            <Link href="/app/admin/mailboxes/new" class="button primary" id="mbx-new">
              {t('mbx.new')}
            </Link>
          </div>
        ) : (
          <p class="muted">{t('admin.adminOnly')}</p>
        )}
      </section>
    </div>
  );
}

interface Form {
  name: string;
  imap: ServerUrl;
  username: string;
  password: string;
  smtpOn: boolean;
  smtp: ServerUrl;
  smtpUsername: string;
  smtpPassword: string;
  fromAddress: string;
  fromName: string;
  teamId: string;
  caseType: string;
  tagPrefix: string;
  pollSeconds: string;
  active: boolean;
  importExisting: boolean;
  maxMiB: string;
}

function formOf(mb: MailboxRec | null): Form {
  return {
    name: mb?.name ?? '',
    imap: mb ? splitUrl(mb.imap_url, 'imap') : { tls: true, host: '', port: '993', folder: 'INBOX' },
    username: mb?.username ?? '',
    password: '',
    smtpOn: mb ? !!mb.smtp_url : true,
    smtp: mb?.smtp_url ? splitUrl(mb.smtp_url, 'smtp') : { tls: true, host: '', port: '465', folder: '' },
    smtpUsername: mb?.smtp_username ?? '',
    smtpPassword: '',
    fromAddress: mb?.from_address ?? '',
    fromName: mb?.from_name ?? '',
    teamId: mb?.team_id ? String(mb.team_id) : '',
    caseType: mb?.case_type ?? 'inquiry',
    tagPrefix: mb?.tag_prefix ?? '[SR-',
    pollSeconds: String(mb?.poll_seconds ?? 60),
    active: mb?.active ?? true,
    importExisting: mb?.import_existing ?? false,
    maxMiB: String(Math.round(((mb?.max_bytes ?? 26214400) / 1048576) * 100) / 100),
  };
}

/** The JSON the API takes; for an edit only what changed (and never an empty password). */
function bodyOf(f: Form, mb: MailboxRec | null): Record<string, unknown> {
  const all: Record<string, unknown> = {
    name: f.name.trim(),
    imap_url: joinUrl(f.imap, 'imap'),
    username: f.username.trim(),
    smtp_url: f.smtpOn ? joinUrl(f.smtp, 'smtp') : null,
    smtp_username: f.smtpOn && f.smtpUsername.trim() ? f.smtpUsername.trim() : null,
    from_address: f.fromAddress.trim(),
    from_name: f.fromName.trim(),
    team_id: f.teamId ? Number(f.teamId) : null,
    case_type: f.caseType,
    tag_prefix: f.tagPrefix,
    poll_seconds: Number(f.pollSeconds),
    active: f.active,
    import_existing: f.importExisting,
    max_bytes: Math.round(Number(f.maxMiB) * 1048576),
  };
  if (f.password) all.password = f.password;
  if (f.smtpOn && f.smtpPassword) all.smtp_password = f.smtpPassword;
  if (!mb) {
    if (all.smtp_url === null) delete all.smtp_url;
    if (all.smtp_username === null) delete all.smtp_username;
    if (all.team_id === null) delete all.team_id;
    return all;
  }
  const cur = mb as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(all)) if (k === 'password' || k === 'smtp_password' || JSON.stringify(cur[k] ?? null) !== JSON.stringify(v)) out[k] = v;
  return out;
}

const SHOWN = ['/name', '/imap_url', '/username', '/password', '/smtp_url', '/smtp_username', '/smtp_password', '/from_address', '/from_name', '/team_id', '/case_type', '/tag_prefix', '/poll_seconds', '/active', '/import_existing', '/max_bytes'];

function MailboxForm(props: { mb: MailboxRec | null; teams: TeamRec[]; procs: ProcRec[]; admin: boolean }) {
  const [mb, setMb] = useState(props.mb);
  const [f, setF] = useState<Form>(formOf(props.mb));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState<Notice>(null);
  const [saving, setSaving] = useState(false);
  const ro = !props.admin;
  const set = (p: Partial<Form>) => setF({ ...f, ...p });

  const submit = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    setError(null);
    setNotice(null);
    if (!mb && !f.password) {
      setErrors({ '/password': t('mbx.passwordRequired') });
      return scrollToError();
    }
    setSaving(true);
    try {
      let r;
      if (!mb) r = await api<MailboxRec>('POST', '/api/v1/mailboxes', bodyOf(f, null));
      else {
        const cur = await api<MailboxRec>('GET', `/api/v1/mailboxes/${mb.id}`);
        if (cur.data.version !== mb.version) {
          setMb(cur.data);
          setF({ ...formOf(cur.data), password: f.password, smtpPassword: f.smtpPassword });
          setNotice(['admin.stale']);
          setSaving(false);
          return;
        }
        r = await api<MailboxRec>('PATCH', `/api/v1/mailboxes/${mb.id}`, bodyOf(f, mb), { ifMatch: cur.etag });
      }
      setMb(r.data);
      setF(formOf(r.data));
      setNotice([mb ? 'admin.saved' : 'mbx.created', { name: r.data.name }]);
      if (!mb) history.replaceState(null, '', `/app/admin/mailboxes/${r.data.id}`);
    } catch (x) {
      if (x instanceof ApiError && x.status === 412 && mb) {
        const cur = await api<MailboxRec>('GET', `/api/v1/mailboxes/${mb.id}`);
        setMb(cur.data);
        setF({ ...formOf(cur.data), password: f.password, smtpPassword: f.smtpPassword });
        setNotice(['admin.stale']);
      } else {
        const fe = fieldErrors(x);
        setErrors(fe);
        setError(x);
        if (Object.keys(fe).length) scrollToError();
      }
    }
    setSaving(false);
  };

  const measured = feeds(props.procs, f.caseType);
  const team = props.teams.find((x) => String(x.id) === f.teamId);
  return (
    <div class="admin-body">
      <p>
        <Link href="/app/admin/mailboxes">← {t('mbx.back')}</Link>
      </p>
      {notice && (
        <p class={`notice ${notice[0] === 'admin.stale' ? '' : 'ok'}`} role="status" id="mbx-notice">
          {t(notice[0], notice[1])}
        </p>
      )}
      <form class="card admin-form mbx-form" id="mailbox-form" onSubmit={submit} noValidate>
        <h2>{mb ? t('mbx.editTitle', { name: mb.name }) : t('mbx.new')}</h2>
        <fieldset disabled={ro}>
          <legend>{t('mbx.general')}</legend>
          <div class="form-grid">
            <label>
              {t('mbx.name')}
              <input id="mbx-name" value={f.name} required maxLength={100} onInput={(e) => set({ name: e.currentTarget.value })} />
              <FieldError errors={errors} at="/name" />
            </label>
            <label>
              {t('mbx.fromAddress')}
              <input id="mbx-from" type="email" value={f.fromAddress} onInput={(e) => set({ fromAddress: e.currentTarget.value })} />
              <FieldError errors={errors} at="/from_address" />
            </label>
            <label>
              {t('mbx.fromName')}
              <input id="mbx-from-name" value={f.fromName} onInput={(e) => set({ fromName: e.currentTarget.value })} />
              <FieldError errors={errors} at="/from_name" />
            </label>
            <label class="check">
              <input id="mbx-active" type="checkbox" checked={f.active} onChange={(e) => set({ active: e.currentTarget.checked })} />
              {t('mbx.active')}
            </label>
          </div>
        </fieldset>

        <fieldset disabled={ro}>
          <legend>{t('mbx.imap')}</legend>
          <div class="form-grid">
            <label>
              {t('mbx.host')}
              <input id="mbx-imap-host" value={f.imap.host} placeholder="imap.exmail.qq.com" onInput={(e) => set({ imap: { ...f.imap, host: e.currentTarget.value } })} />
              <FieldError errors={errors} at="/imap_url" />
            </label>
            <label>
              {t('mbx.port')}
              <input id="mbx-imap-port" inputMode="numeric" value={f.imap.port} placeholder={f.imap.tls ? '993' : '143'} onInput={(e) => set({ imap: { ...f.imap, port: e.currentTarget.value } })} />
            </label>
            <label>
              {t('mbx.security')}
              <select id="mbx-imap-tls" value={f.imap.tls ? 'tls' : 'starttls'} onChange={(e) => set({ imap: { ...f.imap, tls: e.currentTarget.value === 'tls', port: e.currentTarget.value === 'tls' ? '993' : '143' } })}>
                <option value="tls">{t('mbx.tls')}</option>
                <option value="starttls">{t('mbx.starttls')}</option>
              </select>
            </label>
            <label>
              {t('mbx.folder')}
              <input id="mbx-imap-folder" value={f.imap.folder} onInput={(e) => set({ imap: { ...f.imap, folder: e.currentTarget.value } })} />
            </label>
            <label>
              {t('mbx.username')}
              <input id="mbx-username" autoComplete="off" value={f.username} onInput={(e) => set({ username: e.currentTarget.value })} />
              <FieldError errors={errors} at="/username" />
            </label>
            <label>
              {mb?.has_password ? t('mbx.newPassword') : t('mbx.password')}
              <input id="mbx-password" type="password" autoComplete="new-password" value={f.password} placeholder={mb?.has_password ? t('mbx.passwordKept') : ''} onInput={(e) => set({ password: e.currentTarget.value })} />
              <span class="muted small-text" id="mbx-password-state">
                {mb ? (mb.has_password ? t('mbx.passwordSet') : t('mbx.passwordNone')) : t('mbx.passwordHint')}
              </span>
              <FieldError errors={errors} at="/password" />
            </label>
          </div>
        </fieldset>

        <fieldset disabled={ro}>
          <legend>{t('mbx.smtp')}</legend>
          <label class="check">
            <input id="mbx-smtp-on" type="checkbox" checked={f.smtpOn} onChange={(e) => set({ smtpOn: e.currentTarget.checked })} />
            {t('mbx.smtpOn')}
          </label>
          {f.smtpOn && (
            <div class="form-grid">
              <label>
                {t('mbx.host')}
                <input id="mbx-smtp-host" value={f.smtp.host} placeholder="smtp.exmail.qq.com" onInput={(e) => set({ smtp: { ...f.smtp, host: e.currentTarget.value } })} />
                <FieldError errors={errors} at="/smtp_url" />
              </label>
              <label>
                {t('mbx.port')}
                <input id="mbx-smtp-port" inputMode="numeric" value={f.smtp.port} placeholder={f.smtp.tls ? '465' : '587'} onInput={(e) => set({ smtp: { ...f.smtp, port: e.currentTarget.value } })} />
              </label>
              <label>
                {t('mbx.security')}
                <select id="mbx-smtp-tls" value={f.smtp.tls ? 'tls' : 'starttls'} onChange={(e) => set({ smtp: { ...f.smtp, tls: e.currentTarget.value === 'tls', port: e.currentTarget.value === 'tls' ? '465' : '587' } })}>
                  <option value="tls">{t('mbx.tls')}</option>
                  <option value="starttls">{t('mbx.starttls')}</option>
                </select>
              </label>
              <label>
                {t('mbx.smtpUsername')}
                <input id="mbx-smtp-username" autoComplete="off" value={f.smtpUsername} placeholder={t('mbx.sameAsImap')} onInput={(e) => set({ smtpUsername: e.currentTarget.value })} />
                <FieldError errors={errors} at="/smtp_username" />
              </label>
              <label>
                {t('mbx.smtpPassword')}
                <input id="mbx-smtp-password" type="password" autoComplete="new-password" value={f.smtpPassword} placeholder={mb?.has_smtp_password ? t('mbx.passwordKept') : t('mbx.sameAsImap')} onInput={(e) => set({ smtpPassword: e.currentTarget.value })} />
                <FieldError errors={errors} at="/smtp_password" />
              </label>
            </div>
          )}
        </fieldset>

        <fieldset disabled={ro}>
          <legend>{t('mbx.cases')}</legend>
          <div class="form-grid">
            <label>
              {t('mbx.team')}
              <select id="mbx-team" value={f.teamId} onChange={(e) => set({ teamId: e.currentTarget.value })}>
                <option value="">{t('mbx.noTeam')}</option>
                {props.teams.map((tm) => (
                  <option key={tm.id} value={String(tm.id)}>
                    {teamLabel(tm)}
                  </option>
                ))}
              </select>
              <FieldError errors={errors} at="/team_id" />
            </label>
            <label>
              {t('mbx.caseType')}
              <select id="mbx-case-type" value={f.caseType} onChange={(e) => set({ caseType: e.currentTarget.value })}>
                {CASE_TYPES.map((c) => (
                  <option key={c} value={c}>
                    {t(`case.type.${c}` as MessageKey)}
                  </option>
                ))}
              </select>
              <FieldError errors={errors} at="/case_type" />
            </label>
            <label>
              {t('mbx.tagPrefix')}
              <input id="mbx-tag" class="mono" value={f.tagPrefix} onInput={(e) => set({ tagPrefix: e.currentTarget.value })} />
              <span class="muted small-text">{t('mbx.tagExample', { tag: `${f.tagPrefix}42]` })}</span>
              <FieldError errors={errors} at="/tag_prefix" />
            </label>
            <label>
              {t('mbx.pollSeconds')}
              <input id="mbx-poll" type="number" min={10} max={86400} value={f.pollSeconds} onInput={(e) => set({ pollSeconds: e.currentTarget.value })} />
              <FieldError errors={errors} at="/poll_seconds" />
            </label>
            <label>
              {t('mbx.maxMiB')}
              <input id="mbx-max" type="number" min={0.01} step="any" value={f.maxMiB} onInput={(e) => set({ maxMiB: e.currentTarget.value })} />
              <FieldError errors={errors} at="/max_bytes" />
            </label>
            <label class="check">
              <input id="mbx-import-existing" type="checkbox" checked={f.importExisting} onChange={(e) => set({ importExisting: e.currentTarget.checked })} />
              {t('mbx.importExisting')}
            </label>
          </div>
          <p class="muted" id="mbx-feeds">
            {t('mbx.feedsCases', { type: t(`case.type.${f.caseType}` as MessageKey), team: team ? teamLabel(team) : t('mbx.noTeam') })}{' '}
            {measured.length ? t('mbx.feedsProcesses', { list: measured.map((p) => p.name).join(', ') }) : t('mbx.feedsNone')}
          </p>
        </fieldset>

        {mb && (
          <dl class="fields mbx-state" id="mbx-state">
            <div>
              <dt>{t('mbx.lastPoll')}</dt>
              <dd>{mb.last_poll_at ? formatTime(mb.last_poll_at) : t('tokens.never')}</dd>
            </div>
            <div>
              <dt>{t('mbx.lastOkAt')}</dt>
              <dd>{mb.last_ok_at ? formatTime(mb.last_ok_at) : t('tokens.never')}</dd>
            </div>
            <div>
              <dt>{t('mbx.lastError')}</dt>
              <dd class={mb.last_error ? 'field-error' : ''}>{mb.last_error ?? '—'}</dd>
            </div>
            <div>
              <dt>{t('mbx.uidState')}</dt>
              <dd class="mono">{mb.uidvalidity === null ? '—' : `${mb.uidvalidity} / ${mb.last_uid}`}</dd>
            </div>
            <div>
              <dt>{t('mbx.imported')}</dt>
              <dd>{mb.imported}</dd>
            </div>
          </dl>
        )}
        <OtherErrors errors={errors} shown={(p) => SHOWN.includes(p)} />
        {error !== null && !Object.keys(errors).length && <ErrorBox error={error} />}
        {!ro && (
          <div class="actions">
            <button type="submit" class="primary" id="mbx-save" disabled={saving}>
              {mb ? t('common.save') : t('mbx.connect')}
            </button>
          </div>
        )}
      </form>
      {mb && mb.smtp_url && !ro && <TestSend id={mb.id} smtp={mb.smtp_url} />}
    </div>
  );
}

/**
 * Sends a test message through the saved SMTP settings (POST /api/v1/mailboxes/{id}/test):
 * the server's acceptance with the Message-ID, or its refusal in its own words (502).
 */
function TestSend(props: { id: number; smtp: string }) {
  const [to, setTo] = useState('');
  const [busy, setBusy] = useState(false);
  const [res, setRes] = useState<{ ok: boolean; text: string } | null>(null);
  const send = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setRes(null);
    try {
      const r = await api<{ to: string; message_id: string }>('POST', `/api/v1/mailboxes/${props.id}/test`, { to: to.trim() });
      setRes({ ok: true, text: tu('mbx.testSent', { to: r.data.to, id: r.data.message_id }) });
    } catch (err) {
      const detail = err instanceof ApiError ? (Object.values(fieldErrors(err))[0] ?? err.message) : String(err);
      setRes({ ok: false, text: tu('mbx.testFailed', { detail }) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card admin-form" id="mbx-test" onSubmit={send} noValidate>
      <h3>{tu('mbx.testTitle')}</h3>
      <p class="muted">{tu('mbx.testHint', { smtp: props.smtp })}</p>
      <div class="toolbar">
        <label>
          {tu('mbx.testTo')} <input id="mbx-test-to" type="email" value={to} onInput={(e) => setTo(e.currentTarget.value)} />
        </label>
        <button type="submit" id="mbx-test-send" disabled={busy || !to.trim()}>
          {tu('mbx.testSend')}
        </button>
      </div>
      {res && (
        <p class={`notice ${res.ok ? 'ok' : 'poll-error'}`} role="status" id="mbx-test-result">
          {res.text}
        </p>
      )}
    </form>
  );
}
