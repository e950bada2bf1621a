// Scorecards: the team ranking of a template for a period (compute, publish all, freeze
// all and exports for supervisors and admins) and one person's evaluation — items with
// value, points and weight, no-data and critical reasons in the current language, the
// breached measurements behind each item, publish / freeze (freezing is irreversible and
// asks first) and comments. Agents see only their own published or frozen evaluations
// (the API lists nothing else for them). docs/scorecards.md.
import { useEffect, useState } from 'preact/hooks';
import { api } from '../../api';
import { ErrorBox, Link, Loading } from '../../components/common';
import { locale, t, type MessageKey } from '../../i18n';
import { useSession } from '../../session';
import { fmtTime, fmtValue, label, lastMonth, Measurements } from './shared';

interface Template {
  id?: number;
  name: string;
  title?: { en?: string; zh?: string } | string;
  role: string;
  period: string;
  auto?: boolean;
}
interface Item {
  n: number;
  key: string;
  indicator: string;
  label: { en: string; zh: string };
  weight: number;
  floor: number;
  target: number;
  direction: string;
  critical: boolean;
  status: 'scored' | 'no_data';
  value: number | null;
  points: number | null;
  count: number;
  below_floor: boolean;
}
interface Comment {
  id: number;
  author: string;
  body: string;
  created_at: string;
}
interface Eval {
  id: number;
  template: { id: number; name: string; version: number };
  period: string;
  from: string;
  to: string;
  user: { id: number; username: string; display_name: string };
  team: string | null;
  role: string;
  state: 'draft' | 'published' | 'frozen';
  status: 'scored' | 'zeroed' | 'no_data';
  score: number | null;
  reason: string | null;
  reason_zh: string | null;
  rank: { role: number | null; role_size: number; team: number | null; team_size: number };
  frozen_by: string | null;
  frozen_at: string | null;
  published_at: string | null;
  items?: Item[];
  comments?: Comment[];
  previous?: { period: string; score: number | null; change: number | null } | null;
}

const fmtScore = (s: number | null | undefined) => (s === null || s === undefined ? '—' : s.toFixed(2));
const isSup = (role?: string) => role === 'supervisor' || role === 'admin';

/** The reason of a zeroed or no-data evaluation in the current language. */
function reasonText(e: Eval): string | null {
  if (e.status === 'no_data') return t('score.noDataReason');
  if (locale() === 'zh-CN') return e.reason_zh || e.reason;
  return e.reason;
}

/** An in-page confirmation (role="dialog"), for irreversible actions. */
export function Confirm(props: { text: string; ok: string; onOk: () => void; onCancel: () => void }) {
  return (
    <div class="modal-backdrop">
      <div class="card confirm" role="dialog" aria-modal="true" aria-label={props.text} id="confirm">
        <p>{props.text}</p>
        <div class="actions">
          <button type="button" onClick={props.onCancel} id="confirm-cancel">
            {t('common.cancel')}
          </button>
          <button type="button" class="danger" onClick={props.onOk} id="confirm-ok">
            {props.ok}
          </button>
        </div>
      </div>
    </div>
  );
}

function StateBadge(props: { state: Eval['state'] }) {
  return <span class={`badge state-${props.state}`}>{t(`score.state.${props.state}` as MessageKey)}</span>;
}

export function Scorecards() {
  const s = useSession();
  const sup = isSup(s?.user.role);
  const q = new URLSearchParams(location.search);
  const [templates, setTemplates] = useState<Template[] | null>(null);
  const [template, setTemplate] = useState(q.get('template') ?? '');
  const [period, setPeriod] = useState(q.get('period') ?? lastMonth());
  const [rows, setRows] = useState<Eval[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState<string | null>(null);
  const [confirm, setConfirm] = useState(false);

  useEffect(() => {
    api<{ items: Template[] }>('GET', '/api/v1/scorecards/templates')
      .then((r) => {
        setTemplates(r.data.items);
        if (!template && r.data.items[0]) setTemplate(r.data.items[0].name);
      })
      .catch(setError);
  }, []);

  const load = async () => {
    if (!template || !/^\d{4}-(\d{2}|W\d{2}|Q[1-4])$/.test(period)) return;
    setError(null);
    try {
      const r = await api<{ items: Eval[] }>('GET', `/api/v1/evaluations?${new URLSearchParams({ period, template, limit: '500' })}`);
      const list = r.data.items.slice();
      list.sort((a, b) => (a.rank.role ?? 1e9) - (b.rank.role ?? 1e9) || a.user.username.localeCompare(b.user.username));
      setRows(list);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => {
    setRows(null);
    void load();
    if (template) history.replaceState(null, '', `/app/scorecards?${new URLSearchParams({ template, period })}`);
  }, [template, period]);

  const act = async (what: 'compute' | 'publish' | 'freeze') => {
    setBusy(true);
    setNote(null);
    setError(null);
    try {
      const r = await api<{ computed?: number; kept_frozen?: number; changed?: number }>('POST', `/api/v1/evaluations/${what}`, {
        period,
        template,
        ...(what === 'compute' ? { skip_frozen: true } : {}),
      });
      setNote(what === 'compute' ? t('score.computed', { n: r.data.computed ?? 0, k: r.data.kept_frozen ?? 0 }) : t(`score.${what}Done` as MessageKey));
      await load();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  const tpl = templates?.find((x) => x.name === template);
  const exp = (format: string, detail?: boolean) =>
    `/api/v1/evaluations/export?${new URLSearchParams({ period, template, format, ...(detail ? { detail: 'items' } : {}) })}`;
  return (
    <div class="page kpi-page" id="scorecards">
      <div class="card-head">
        <h1>{t('score.title')}</h1>
        {sup && template && (
          <span class="actions">
            <a class="button" id="export-csv" href={exp('csv')} download>
              {t('score.exportCsv')}
            </a>
            <a class="button" id="export-items-csv" href={exp('csv', true)} download>
              {t('score.exportItems')}
            </a>
            <a class="button" id="export-xlsx" href={exp('xlsx')} download>
              {t('score.exportXlsx')}
            </a>
          </span>
        )}
      </div>
      <div class="toolbar">
        <label>
          {t('score.template')}{' '}
          <select id="score-template" value={template} onChange={(e) => setTemplate((e.currentTarget as HTMLSelectElement).value)}>
            {(templates ?? []).map((x) => (
              <option key={x.name} value={x.name}>
                {label(x.title) || x.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('kpi.month')}{' '}
          <input type="month" id="score-period" value={period} onChange={(e) => setPeriod((e.currentTarget as HTMLInputElement).value)} />
        </label>
        {sup && template && (
          <span class="actions">
            <button type="button" id="score-compute" disabled={busy} onClick={() => void act('compute')}>
              {t('score.compute')}
            </button>
            <button type="button" id="score-publish-all" disabled={busy || !rows?.some((r) => r.state === 'draft')} onClick={() => void act('publish')}>
              {t('score.publishAll')}
            </button>
            <button type="button" id="score-freeze-all" class="danger" disabled={busy || !rows?.some((r) => r.state === 'published')} onClick={() => setConfirm(true)}>
              {t('score.freezeAll')}
            </button>
          </span>
        )}
      </div>
      {note && <p class="ok" role="status">{note}</p>}
      {error !== null && <ErrorBox error={error} />}
      {templates !== null && templates.length === 0 && <p class="muted">{t('score.noTemplates')}</p>}
      {rows === null && error === null && templates?.length !== 0 && <Loading />}
      {rows !== null && rows.length === 0 && <p class="muted">{sup ? t('score.noneSup') : t('score.noneAgent')}</p>}
      {rows !== null && rows.length > 0 && (
        <table class="list" id="ranking">
          <caption class="sr-only">{t('score.ranking')}</caption>
          <thead>
            <tr>
              <th>{t('score.rank')}</th>
              <th>{t('score.person')}</th>
              <th>{t('score.team')}</th>
              <th>{t('score.teamRank')}</th>
              <th class="num">{t('score.score')}</th>
              <th>{t('score.status')}</th>
              <th>{t('score.state')}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((e) => (
              <tr key={e.id} data-user={e.user.username}>
                <td class="rank">{e.rank.role ?? '—'}</td>
                <td>
                  <Link href={`/app/scorecards/${e.id}`}>{e.user.display_name || e.user.username}</Link>
                </td>
                <td>{e.team ?? '—'}</td>
                <td>{e.rank.team ? `${e.rank.team} / ${e.rank.team_size}` : '—'}</td>
                <td class="num score">{fmtScore(e.score)}</td>
                <td>{t(`score.status.${e.status}` as MessageKey)}</td>
                <td>
                  <StateBadge state={e.state} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {tpl && tpl.auto !== false && <p class="muted small">{t('score.templateLine', { role: tpl.role, period: tpl.period })}</p>}
      {confirm && (
        <Confirm
          text={t('score.confirmFreezeAll', { period })}
          ok={t('score.freezeAll')}
          onCancel={() => setConfirm(false)}
          onOk={() => {
            setConfirm(false);
            void act('freeze');
          }}
        />
      )}
    </div>
  );
}

export function Evaluation(props: { id: string }) {
  const s = useSession();
  const sup = isSup(s?.user.role);
  const [e, setE] = useState<Eval | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [drill, setDrill] = useState<Item | null>(null);
  const [confirm, setConfirm] = useState(false);
  const [body, setBody] = useState('');

  const load = async () => {
    try {
      const r = await api<Eval>('GET', `/api/v1/evaluations/${props.id}`);
      setE(r.data);
    } catch (x) {
      setError(x);
    }
  };
  useEffect(() => {
    setE(null);
    setError(null);
    void load();
  }, [props.id]);

  const post = async (path: string, b: unknown = {}) => {
    setBusy(true);
    setError(null);
    try {
      await api('POST', `/api/v1/evaluations/${props.id}/${path}`, b);
      await load();
      return true;
    } catch (x) {
      setError(x);
      return false;
    } finally {
      setBusy(false);
    }
  };

  if (!e) return error !== null ? <ErrorBox error={error} /> : <Loading />;
  const reason = e.status !== 'scored' ? reasonText(e) : null;
  const canComment = e.state !== 'frozen' && (sup || (e.state === 'published' && e.user.username === s?.user.username));
  return (
    <div class="page kpi-page" id="evaluation">
      <p>
        <Link href={`/app/scorecards?${new URLSearchParams({ template: e.template.name, period: e.period })}`}>← {t('score.back')}</Link>
      </p>
      <div class="card-head">
        <h1>
          {t('score.evalTitle', { who: e.user.display_name || e.user.username, period: e.period })} <StateBadge state={e.state} />
        </h1>
        {sup && (
          <span class="actions">
            {e.state === 'draft' && (
              <button type="button" id="eval-publish" disabled={busy} onClick={() => void post('publish')}>
                {t('score.publish')}
              </button>
            )}
            {e.state === 'published' && (
              <button type="button" id="eval-freeze" class="danger" disabled={busy} onClick={() => setConfirm(true)}>
                {t('score.freeze')}
              </button>
            )}
          </span>
        )}
      </div>
      {error !== null && <ErrorBox error={error} />}
      <section class="card score-head">
        <div class="big-score" id="eval-score">
          {fmtScore(e.score)}
        </div>
        <dl class="facts">
          <dt>{t('score.template')}</dt>
          <dd>{e.template.name}</dd>
          <dt>{t('score.rank')}</dt>
          <dd id="eval-rank">{e.rank.role ? t('score.rankOf', { n: e.rank.role, of: e.rank.role_size }) : '—'}</dd>
          <dt>{t('score.teamRank')}</dt>
          <dd>{e.rank.team ? t('score.rankOf', { n: e.rank.team, of: e.rank.team_size }) : '—'}</dd>
          {e.previous && (
            <>
              <dt>{t('score.previous', { period: e.previous.period })}</dt>
              <dd>
                {fmtScore(e.previous.score)}
                {e.previous.change !== null && ` (${e.previous.change >= 0 ? '+' : ''}${e.previous.change.toFixed(2)})`}
              </dd>
            </>
          )}
          {e.state === 'frozen' && (
            <>
              <dt>{t('score.frozenBy')}</dt>
              <dd id="eval-frozen">{t('score.frozenLine', { by: e.frozen_by ?? '—', at: fmtTime(e.frozen_at) })}</dd>
            </>
          )}
        </dl>
        {reason && (
          <p class={`reason ${e.status}`} id="eval-reason">
            {reason}
          </p>
        )}
      </section>
      <table class="list" id="items">
        <thead>
          <tr>
            <th>{t('score.item')}</th>
            <th class="num">{t('score.value')}</th>
            <th class="num">{t('score.floorTarget')}</th>
            <th class="num">{t('score.weight')}</th>
            <th class="num">{t('score.points')}</th>
            <th>{t('score.status')}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(e.items ?? []).map((it) => (
            <tr key={it.n} data-key={it.key} class={it.below_floor ? 'breached' : ''}>
              <td>
                {label(it.label)}
                {it.critical && <span class="badge critical">{t('score.critical')}</span>}
              </td>
              <td class="num">
                {fmtValue(it.indicator, it.value)}
                {it.status === 'scored' && <span class="muted small"> ({it.count})</span>}
              </td>
              <td class="num">
                {fmtValue(it.indicator, it.floor)} → {fmtValue(it.indicator, it.target)}
              </td>
              <td class="num">{it.weight}</td>
              <td class="num points">{it.points === null ? '—' : it.points.toFixed(2)}</td>
              <td>{it.status === 'no_data' ? t('score.noDataItem') : it.below_floor ? t('score.belowFloor') : t('score.status.scored')}</td>
              <td>
                {it.status === 'scored' && (
                  <button type="button" class="drill-btn" onClick={() => setDrill(it)}>
                    {t('score.breached')}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {drill && (
        <Measurements
          url={`/api/v1/evaluations/${e.id}/items/${drill.n}/measurements?result=breached`}
          title={t('score.breachedOf', { item: label(drill.label) })}
          onClose={() => setDrill(null)}
        />
      )}
      <section class="card" id="comments">
        <h3>{t('score.comments')}</h3>
        {(e.comments ?? []).length === 0 && <p class="muted">{t('score.noComments')}</p>}
        <ul class="comments">
          {(e.comments ?? []).map((c) => (
            <li key={c.id}>
              <strong>{c.author}</strong> <span class="muted small">{fmtTime(c.created_at)}</span>
              <p>{c.body}</p>
            </li>
          ))}
        </ul>
        {canComment && (
          <form
            onSubmit={(ev) => {
              ev.preventDefault();
              if (body.trim()) void post('comments', { body }).then((ok) => ok && setBody(''));
            }}
          >
            <label>
              <span class="sr-only">{t('score.comment')}</span>
              <textarea id="comment-body" rows={3} maxLength={4000} placeholder={t('score.comment')} value={body} onInput={(ev) => setBody((ev.currentTarget as HTMLTextAreaElement).value)} />
            </label>
            <button type="submit" id="comment-send" disabled={busy || !body.trim()}>
              {t('score.send')}
            </button>
          </form>
        )}
      </section>
      {confirm && (
        <Confirm
          text={t('score.confirmFreeze', { who: e.user.display_name || e.user.username })}
          ok={t('score.freeze')}
          onCancel={() => setConfirm(false)}
          onOk={() => {
            setConfirm(false);
            void post('freeze');
          }}
        />
      )}
    </div>
  );
}

