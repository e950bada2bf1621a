// The case's e-mail (uimail): the thread of messages received and sent (from, to, cc,
// subject, time; quoted text folded away; attachments listed), each received message with
// its reply clock (the Customer email standard: met / breached / time left), each sent one
// with the clocks it stopped; and the reply composer — to and cc prefilled as a reply to
// all of the customer's last message, the subject with "Re:" (the server adds the case
// tag), canned reply templates, plain text. Sending is POST /api/v1/cases/{id}/reply: the
// server sends over SMTP first and records only what the mail server accepted, so a 502
// (refused or unreachable) writes nothing — the typed text stays, with the server's words.
// The draft is kept in sessionStorage per case, so a reload loses nothing either.
// GET /api/v1/cases/{id}/emails, GET /api/v1/subjects/{subject}/timeline (the clocks),
// GET /api/v1/processes (step titles). Loaded lazily (components/LazyMail.tsx).
import { useEffect, useRef, useState } from 'preact/hooks';
import '../mail.css';
import { api, ApiError, fieldErrors } from '../../api';
import { ErrorBox, Loading } from '../../components/common';
import { formatTime, locale, t, type MessageKey } from '../../i18n';
import { useSession } from '../../session';
import type { Case } from '../CaseView';

export interface MailItem {
  id: number;
  direction: 'in' | 'out';
  message_id: string;
  from: string | null;
  from_name: string | null;
  reply_to: string | null;
  to: string[] | null;
  cc: string[] | null;
  subject: string | null;
  at: string;
  thread: string;
  body: string | null;
  attachments: { name?: string; type?: string; size?: number }[] | null;
  attachment_count: number | null;
  auto: string | null;
  event_id: number | null;
  interaction_id: number | null;
}

interface Measurement {
  id: number;
  process_id: number;
  step: string;
  occurrence: number;
  started_at: string | null;
  done_at: string | null;
  elapsed_ms: number;
  target_ms: number;
  deadline_at: string | null;
  result: string | null;
  state: string | null;
  charged_actor: string | null;
  start_event_id: number | null;
  end_event_id: number | null;
  process?: string;
}

interface Timeline {
  instances: { id: number; process_id: number; process: string | null; steps: Measurement[] }[];
}

interface ProcInfo {
  id: number;
  name: string;
  draft?: { steps?: { key: string; title?: { en?: string; zh?: string } | string }[] };
}

interface ReplyResult {
  message_id: string;
  thread: string;
  to: string[];
  cc?: string[];
  sent_at: string;
  case: Case;
}

/** A body split into what was written and the quoted history below it (folded away). */
export function splitQuoted(body: string): { main: string; quoted: string } {
  const lines = body.split('\n');
  const header = /^(On .+wrote:|在.+写道[:：]|-{2,}\s*(Original Message|原始邮件|Forwarded message|转发的邮件)\s*-{2,}|_{5,})\s*$/i;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!.trim();
    const rest = lines.slice(i).filter((x) => x.trim() !== '');
    const allQuoted = l.startsWith('>') && rest.every((x) => x.trim().startsWith('>'));
    // Outlook's "From: …" block after a blank line, in both languages.
    const outlook = /^(From|发件人)[:：]\s/.test(l) && i > 0 && lines[i - 1]!.trim() === '' && lines.slice(i, i + 6).some((x) => /^(Sent|Date|发送时间|日期)[:：]/.test(x.trim()));
    if (header.test(l) || allQuoted || outlook) {
      return { main: lines.slice(0, i).join('\n').replace(/\s+$/, ''), quoted: lines.slice(i).join('\n') };
    }
  }
  return { main: body.replace(/\s+$/, ''), quoted: '' };
}

function addrList(v: string): string[] {
  return v
    .split(/[,;，；\s]+/)
    .map((x) => x.trim())
    .filter(Boolean);
}

function fmtSize(n: number | undefined): string {
  if (n === undefined) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(n < 10240 ? 1 : 0)} KB`;
  return `${(n / 1048576).toFixed(1)} MB`;
}

/** "2 h 5 min" from ms (hours and minutes; days above 48 h). */
export function fmtSpan(ms: number): string {
  const m = Math.round(Math.abs(ms) / 60000);
  const d = m >= 2880 ? Math.floor(m / 1440) : 0; // "24 h", "36 h"; days from 48 h
  const h = Math.floor((m - d * 1440) / 60);
  const min = m % 60;
  const parts: string[] = [];
  if (d) parts.push(t('dur.d', { n: d }));
  if (h) parts.push(t('dur.h', { n: h }));
  if (min || !parts.length) parts.push(t('dur.m', { n: min }));
  return parts.join(' ');
}

const TEMPLATES: [string, MessageKey][] = [
  ['ack', 'mail.tpl.ack'],
  ['visit', 'mail.tpl.visit'],
  ['info', 'mail.tpl.info'],
  ['done', 'mail.tpl.done'],
];

function draftKey(caseId: number) {
  return `smile.reply.${caseId}`;
}

export function EmailThread(props: { caseRec: Case; onCase: (c: Case) => void }) {
  const s = useSession();
  const c = props.caseRec;
  const [items, setItems] = useState<MailItem[] | null>(null);
  const [clocks, setClocks] = useState<Measurement[]>([]);
  const [procs, setProcs] = useState<ProcInfo[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [open, setOpen] = useState(false);
  const [to, setTo] = useState('');
  const [cc, setCc] = useState('');
  const [subject, setSubject] = useState('');
  const [body, setBody] = useState('');
  const [status, setStatus] = useState('');
  const [sending, setSending] = useState(false);
  const [sendError, setSendError] = useState<unknown>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [sent, setSent] = useState<{ r: ReplyResult; done: Measurement[] } | null>(null);
  const bodyRef = useRef<HTMLTextAreaElement>(null);
  const base = `/api/v1/cases/${c.id}`;

  /** The thread and the clocks of its subjects (and the case's own steps). */
  const load = async (): Promise<{ items: MailItem[]; clocks: Measurement[] }> => {
    const r = await api<{ items: MailItem[] }>('GET', `${base}/emails`);
    const list = r.data.items ?? [];
    const subjects = [...new Set(list.map((m) => m.thread)), `case:${c.id}`];
    const ms: Measurement[] = [];
    await Promise.all(
      subjects.map((sub) =>
        api<Timeline>('GET', `/api/v1/subjects/${encodeURIComponent(sub)}/timeline`)
          .then((tl) => {
            for (const inst of tl.data.instances ?? []) for (const m of inst.steps ?? []) ms.push({ ...m, process: inst.process ?? undefined });
          })
          .catch(() => undefined), // no kpi:read (a token) or no such subject: no clocks
      ),
    );
    setItems(list);
    setClocks(ms);
    return { items: list, clocks: ms };
  };

  const prefill = (list: MailItem[]) => {
    const lastIn = [...list].reverse().find((m) => m.direction === 'in' && !m.auto);
    const last = list[list.length - 1];
    setTo(lastIn ? (lastIn.reply_to || lastIn.from || '') : '');
    setCc(lastIn?.cc?.join(', ') ?? '');
    let subj = (last?.direction === 'out' ? last.subject : lastIn?.subject) ?? c.subject ?? '';
    if (subj && !/^(re|回复|答复)\s*[:：]/i.test(subj)) subj = `Re: ${subj}`;
    setSubject(subj);
  };

  useEffect(() => {
    setError(null);
    setSent(null);
    load()
      .then(({ items: list }) => {
        prefill(list);
        const saved = sessionStorage.getItem(draftKey(c.id));
        if (saved) {
          setBody(saved);
          setOpen(true);
        }
      })
      .catch(setError);
    api<{ items: ProcInfo[] }>('GET', '/api/v1/processes?limit=500')
      .then((r) => setProcs(r.data.items ?? []))
      .catch(() => setProcs([]));
  }, [c.id]);

  const stepTitle = (m: Measurement): string => {
    const p = procs.find((x) => x.id === m.process_id);
    const st = p?.draft?.steps?.find((x) => x.key === m.step);
    const title = typeof st?.title === 'string' ? st.title : (locale() === 'zh-CN' ? st?.title?.zh || st?.title?.en : st?.title?.en || st?.title?.zh);
    return `${m.process ?? p?.name ?? ''} · ${title || m.step}`;
  };

  const clockText = (m: Measurement) => {
    if (m.result === 'met' || m.result === 'breached')
      return (
        <>
          <span class={m.result}>{t(m.result === 'met' ? 'mail.clock.met' : 'mail.clock.breached')}</span> {t('mail.clock.took', { took: fmtSpan(m.elapsed_ms), of: fmtSpan(m.target_ms) })}
        </>
      );
    if (m.result === 'excluded') return <span class="muted">{t('mail.clock.excluded')}</span>;
    const left = m.deadline_at ? new Date(m.deadline_at).getTime() - Date.now() : null;
    return (
      <>
        <span class={left !== null && left < 0 ? 'breached' : 'open'}>{left !== null && left < 0 ? t('mail.clock.overdue') : t('mail.clock.open')}</span>{' '}
        {m.deadline_at && t('mail.clock.due', { at: formatTime(m.deadline_at), of: fmtSpan(m.target_ms) })}
      </>
    );
  };

  const setBodyKept = (v: string) => {
    setBody(v);
    if (v) sessionStorage.setItem(draftKey(c.id), v);
    else sessionStorage.removeItem(draftKey(c.id));
  };

  const useTemplate = (key: string) => {
    if (!key) return;
    const lastIn = [...(items ?? [])].reverse().find((m) => m.direction === 'in');
    const text = t(TEMPLATES.find(([k]) => k === key)![1], {
      name: lastIn?.from_name || '',
      agent: s?.user.display_name || s?.user.username || '',
      case: c.id,
    });
    setBodyKept(body.trim() ? `${body.replace(/\s+$/, '')}\n\n${text}` : text);
    bodyRef.current?.focus();
  };

  const send = async (e?: Event) => {
    e?.preventDefault();
    setSendError(null);
    setErrors({});
    setSent(null);
    if (!body.trim()) {
      setErrors({ '/body': t('mail.bodyRequired') });
      bodyRef.current?.focus();
      return;
    }
    const req: Record<string, unknown> = { body };
    const toList = addrList(to);
    const ccList = addrList(cc);
    if (toList.length) req.to = toList;
    if (ccList.length) req.cc = ccList; // none: no copies (the API refuses an empty list)
    if (subject.trim()) req.subject = subject.trim();
    if (status) req.status = status;
    setSending(true);
    try {
      const r = await api<ReplyResult>('POST', `${base}/reply`, req);
      sessionStorage.removeItem(draftKey(c.id));
      setBody('');
      setStatus('');
      props.onCase(r.data.case);
      // The runtime folds email.sent a moment after the answer: look a few times for the
      // clocks the reply stopped.
      const sentAt = new Date(r.data.sent_at).getTime();
      let done: Measurement[] = [];
      let list: MailItem[] = [];
      for (let i = 0; i < 6; i++) {
        const got = await load();
        list = got.items;
        const ev = got.items.find((m) => m.message_id === r.data.message_id)?.event_id;
        done = got.clocks.filter((m) => m.done_at && ((ev && m.end_event_id === ev) || Math.abs(new Date(m.done_at).getTime() - sentAt) < 2000));
        if (done.length) break;
        await new Promise((res) => setTimeout(res, 500));
      }
      prefill(list);
      setSent({ r: r.data, done });
    } catch (x) {
      setErrors(fieldErrors(x));
      setSendError(x);
    }
    setSending(false);
  };

  /** The problems of a 422 at a field or one of its elements (/cc/1). */
  const errAt = (f: string): string | null => {
    const d = Object.entries(errors).filter(([p]) => p === f || p.startsWith(`${f}/`)).map(([, v]) => v);
    return d.length ? d.join('; ') : null;
  };
  const fieldErr = (f: string) => {
    const d = errAt(f);
    return d ? (
      <span class="field-error" role="alert" data-pointer={f}>
        {d}
      </span>
    ) : null;
  };

  if (error) return <ErrorBox error={error} />;
  if (!items) return <Loading />;
  const closed = c.status === 'closed';
  const hasThread = items.length > 0;
  if (!hasThread && c.channel !== 'email' && !open)
    return closed ? null : (
      <section class="card mail-thread" id="mail-thread">
        <button type="button" id="mail-write" onClick={() => setOpen(true)}>
          {t('mail.write')}
        </button>
      </section>
    );

  const sendErrorText = (x: unknown): string => {
    if (x instanceof ApiError) {
      if (x.status === 502) return t('mail.err.smtp');
      if (x.status === 409) return t('mail.err.closed');
      if (x.status === 422) return t('mail.err.invalid');
      if (x.status === 0) return t('mail.err.offline');
    }
    return t('mail.err.other');
  };

  return (
    <section class="card mail-thread" id="mail-thread" aria-labelledby="mail-title">
      <h2 id="mail-title">
        {t('mail.title')} <span class="muted small-text">{t('mail.count', { n: items.length })}</span>
      </h2>
      {hasThread ? (
        <ol class="mail-list" id="mail-list">
          {items.map((m) => {
            const { main, quoted } = splitQuoted(m.body ?? '');
            const started = m.direction === 'in' ? clocks.filter((x) => x.start_event_id && x.start_event_id === m.event_id && x.step) : [];
            const stopped = m.direction === 'out' ? clocks.filter((x) => x.end_event_id && x.end_event_id === m.event_id) : [];
            const more = (m.attachment_count ?? 0) - (m.attachments?.length ?? 0);
            return (
              <li key={m.id} class={`mail-msg ${m.direction} ${sent?.r.message_id === m.message_id ? 'new' : ''}`} data-direction={m.direction} data-message-id={m.message_id}>
                <div class="mail-head">
                  <span class="mail-dir">{t(m.direction === 'in' ? 'mail.received' : 'mail.sent')}</span>
                  <strong class="mail-from">{m.from_name ? `${m.from_name} <${m.from ?? ''}>` : m.from}</strong>
                  <time class="mail-time" dateTime={m.at}>
                    {formatTime(m.at)}
                  </time>
                </div>
                <div class="mail-meta">
                  {m.to && m.to.length > 0 && <span class="mail-to">{t('mail.toList', { list: m.to.join(', ') })}</span>}
                  {m.cc && m.cc.length > 0 && <span class="mail-cc">{t('mail.ccList', { list: m.cc.join(', ') })}</span>}
                  <span class="mail-subject">{m.subject}</span>
                </div>
                {m.auto && <p class="tag off">{t('mail.auto', { kind: m.auto })}</p>}
                {m.body === null ? <p class="muted">{t('mail.noBody')}</p> : <pre class="mail-body">{main}</pre>}
                {quoted && (
                  <details class="mail-quoted">
                    <summary>{t('mail.quoted', { n: quoted.split('\n').length })}</summary>
                    <pre class="mail-body">{quoted}</pre>
                  </details>
                )}
                {(m.attachments?.length ?? 0) > 0 && (
                  <ul class="mail-attachments" aria-label={t('mail.attachments')}>
                    {m.attachments!.map((a, i) => (
                      <li key={i}>
                        {a.name || t('mail.unnamed')} <span class="muted">({[a.type, fmtSize(a.size)].filter(Boolean).join(', ')})</span>
                      </li>
                    ))}
                    {more > 0 && <li class="muted">{t('mail.moreAttachments', { n: more })}</li>}
                  </ul>
                )}
                {(m.attachments?.length ?? 0) > 0 && <p class="muted small-text">{t('mail.attachmentsNotKept')}</p>}
                {started.map((x) => (
                  <p class="mail-clock" key={x.id} data-clock="start">
                    {stepTitle(x)}: {clockText(x)}
                  </p>
                ))}
                {stopped.map((x) => (
                  <p class="mail-clock" key={x.id} data-clock="stop">
                    ✓ {t('mail.stopped', { step: stepTitle(x), at: formatTime(x.started_at) })}: {clockText(x)}
                  </p>
                ))}
              </li>
            );
          })}
        </ol>
      ) : (
        <p class="muted">{t('mail.none')}</p>
      )}

      {sent && (
        <div class="mail-sent" role="status" id="mail-sent">
          <p>{t('mail.sentTo', { to: [...sent.r.to, ...(sent.r.cc ?? [])].join(', '), at: formatTime(sent.r.sent_at) })}</p>
          {sent.done.length > 0 ? (
            <ul id="mail-sent-steps">
              {sent.done.map((x) => (
                <li key={x.id}>
                  {t('mail.completes', { step: stepTitle(x) })}: {clockText(x)}
                </li>
              ))}
            </ul>
          ) : (
            <p class="muted">{t('mail.noStep')}</p>
          )}
        </div>
      )}

      {closed ? (
        <p class="muted">{t('mail.closed')}</p>
      ) : !open ? (
        <div class="actions">
          <button type="button" class="primary" id="mail-reply" onClick={() => {
            setOpen(true);
            requestAnimationFrame(() => bodyRef.current?.focus());
          }}>
            {t('mail.reply')}
          </button>
        </div>
      ) : (
        <form class="mail-compose" id="mail-compose" onSubmit={send} onKeyDown={(e) => {
          if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) void send(e);
        }}>
          <h3>{t('mail.compose')}</h3>
          <label class="row">
            <span>{t('mail.to')}</span>
            <input id="mail-to" value={to} placeholder={t('mail.toDefault')} onInput={(e) => setTo(e.currentTarget.value)} />
          </label>
          {fieldErr('/to')}
          <label class="row">
            <span>{t('mail.cc')}</span>
            <input id="mail-cc" value={cc} onInput={(e) => setCc(e.currentTarget.value)} />
          </label>
          {fieldErr('/cc')}
          <label class="row">
            <span>{t('mail.subject')}</span>
            <input id="mail-subject" value={subject} onInput={(e) => setSubject(e.currentTarget.value)} />
          </label>
          <p class="muted small-text">{t('mail.tagHint')}</p>
          {fieldErr('/subject')}
          <label class="row">
            <span>{t('mail.template')}</span>
            <select id="mail-template" value="" onChange={(e) => useTemplate(e.currentTarget.value)}>
              <option value="">{t('mail.templatePick')}</option>
              {TEMPLATES.map(([k]) => (
                <option key={k} value={k}>
                  {t(`mail.tplName.${k}` as MessageKey)}
                </option>
              ))}
            </select>
          </label>
          <label>
            <span class="sr-only">{t('mail.body')}</span>
            <textarea id="mail-body" ref={bodyRef} value={body} placeholder={t('mail.bodyPlaceholder')} onInput={(e) => setBodyKept(e.currentTarget.value)} />
          </label>
          {fieldErr('/body')}
          {fieldErr('/mailbox_id')}
          {sendError !== null && (
            <div class="mail-send-error" role="alert" id="mail-error">
              <strong>{sendErrorText(sendError)}</strong>
              {sendError instanceof ApiError && sendError.message && <pre>{sendError.message}</pre>}
            </div>
          )}
          <div class="compose-foot">
            <label>
              {t('mail.after')}{' '}
              <select id="mail-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
                <option value="">{t('mail.keepStatus')}</option>
                <option value="pending">{t('mail.setPending')}</option>
                <option value="resolved">{t('mail.setResolved')}</option>
              </select>
            </label>
            <span class="spacer" />
            <span class="muted small-text">{t('mail.ctrlEnter')}</span>
            <button type="button" onClick={() => setOpen(false)}>
              {t('common.cancel')}
            </button>
            <button type="submit" class="primary" id="mail-send" disabled={sending}>
              {sending ? t('mail.sending') : t('mail.send')}
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
