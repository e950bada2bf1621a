// API tokens: list (name, who it acts as, scopes, prefix, created, last used, revoked),
// create (the secret is shown once, with a copy button) and revoke.
// GET/POST /api/v1/tokens, DELETE /api/v1/tokens/{id}.
import { useEffect, useState } from 'preact/hooks';
import { api, fieldErrors } from '../../api';
import { ErrorBox, Loading } from '../../components/common';
import { formatTime, t } from '../../i18n';
import { useSession } from '../../session';
import { FieldError, OtherErrors } from './Admin';
import { loadAll, type UserRec } from './Users';

interface TokenRec {
  id: number;
  user_id: number;
  username: string;
  name: string;
  prefix: string;
  scopes: string[];
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
  token?: string;
}

const SCOPES = ['crm:read', 'crm:write', 'events:read', 'events:write', 'kpi:read', 'admin'];

export function Tokens() {
  const s = useSession();
  const admin = s?.user.role === 'admin';
  const [tokens, setTokens] = useState<TokenRec[] | null>(null);
  const [users, setUsers] = useState<UserRec[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [secret, setSecret] = useState<TokenRec | null>(null);
  const [copied, setCopied] = useState(false);

  const load = async () => {
    setError(null);
    try {
      const [tk, us] = await Promise.all([loadAll<TokenRec>('/api/v1/tokens'), loadAll<UserRec>('/api/v1/users')]);
      setTokens(tk);
      setUsers(us.filter((u) => !u.disabled));
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => void load(), []);

  const revoke = async (tk: TokenRec) => {
    if (!confirm(t('tokens.confirmRevoke', { name: tk.name }))) return;
    setError(null);
    try {
      await api('DELETE', `/api/v1/tokens/${tk.id}`);
      await load();
    } catch (e) {
      setError(e);
    }
  };

  if (!tokens) return error ? <ErrorBox error={error} onRetry={() => void load()} /> : <Loading />;
  return (
    <div class="admin-body">
      {secret && (
        <div class="card secret" role="status" id="token-secret">
          <p>
            <strong>{t('tokens.secret')}</strong>
          </p>
          <p class="secret-line">
            <code id="token-value">{secret.token}</code>
            <button
              type="button"
              class="small"
              onClick={() => {
                void navigator.clipboard?.writeText(secret.token ?? '').then(() => setCopied(true), () => setCopied(false));
              }}
            >
              {t('tokens.copy')}
            </button>
            {copied && <span class="muted">{t('tokens.copied')}</span>}
            <button type="button" class="small" onClick={() => setSecret(null)}>
              {t('common.close')}
            </button>
          </p>
        </div>
      )}
      {error !== null && <ErrorBox error={error} />}
      <section class="card">
        <h2>{t('tokens.title')}</h2>
        {tokens.length === 0 ? (
          <p class="muted">{t('common.empty')}</p>
        ) : (
          <div class="table-wrap">
            <table class="list" id="tokens">
              <thead>
                <tr>
                  <th scope="col">{t('tokens.name')}</th>
                  <th scope="col">{t('tokens.user')}</th>
                  <th scope="col">{t('tokens.scopes')}</th>
                  <th scope="col" class="wide">{t('tokens.prefix')}</th>
                  <th scope="col">{t('tokens.created')}</th>
                  <th scope="col">{t('tokens.lastUsed')}</th>
                  <th scope="col">{t('users.status')}</th>
                </tr>
              </thead>
              <tbody>
                {tokens.map((tk) => (
                  <tr key={tk.id} data-token={tk.name} class={tk.revoked_at ? 'disabled' : ''}>
                    <td>{tk.name}</td>
                    <td class="mono">{tk.username}</td>
                    <td>
                      {tk.scopes.map((x) => (
                        <span class="tag mono" key={x}>
                          {x}
                        </span>
                      ))}
                    </td>
                    <td class="wide mono">{tk.prefix}…</td>
                    <td>{formatTime(tk.created_at)}</td>
                    <td>{tk.last_used_at ? formatTime(tk.last_used_at) : <span class="muted">{t('tokens.never')}</span>}</td>
                    <td>
                      {tk.revoked_at ? (
                        <span class="tag off">{t('tokens.revoked', { at: formatTime(tk.revoked_at) })}</span>
                      ) : (
                        <>
                          <span class="tag">{t('tokens.active')}</span>
                          {(admin || tk.user_id === s?.user.id) && (
                            <button type="button" class="small danger" onClick={() => void revoke(tk)} aria-label={`${t('tokens.revoke')} ${tk.name}`}>
                              {t('tokens.revoke')}
                            </button>
                          )}
                        </>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {admin && (
          <NewToken
            users={users}
            me={s?.user.id ?? 0}
            onCreated={(tk) => {
              setSecret(tk);
              setCopied(false);
              void load();
            }}
          />
        )}
      </section>
    </div>
  );
}

function NewToken(props: { users: UserRec[]; me: number; onCreated: (t: TokenRec) => void }) {
  const [name, setName] = useState('');
  const [user, setUser] = useState(String(props.me));
  const [scopes, setScopes] = useState<string[]>(['events:write']);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    setError(null);
    if (!scopes.length) return setErrors({ '/scopes': t('tokens.pickScope') });
    try {
      const r = await api<TokenRec>('POST', '/api/v1/tokens', { name, user_id: Number(user), scopes });
      props.onCreated(r.data);
      setName('');
    } catch (x) {
      setErrors(fieldErrors(x));
      setError(x);
    }
  };
  const toggle = (x: string) => setScopes(scopes.includes(x) ? scopes.filter((y) => y !== x) : [...scopes, x]);
  return (
    <form class="admin-form" id="new-token" onSubmit={submit}>
      <h3>{t('tokens.new')}</h3>
      <div class="form-grid">
        <label>
          {t('tokens.name')}
          <input id="token-name" value={name} required onInput={(e) => setName(e.currentTarget.value)} />
          <FieldError errors={errors} at="/name" />
        </label>
        <label>
          {t('tokens.user')}
          <select id="token-user" value={user} onChange={(e) => setUser(e.currentTarget.value)}>
            {props.users.map((u) => (
              <option key={u.id} value={String(u.id)}>
                {u.username}
                {u.display_name ? ` (${u.display_name})` : ''}
              </option>
            ))}
          </select>
          <FieldError errors={errors} at="/user_id" />
        </label>
      </div>
      <fieldset class="scopes">
        <legend>{t('tokens.scopes')}</legend>
        {SCOPES.map((x) => (
          <label class="check" key={x}>
            <input type="checkbox" value={x} checked={scopes.includes(x)} onChange={() => toggle(x)} />
            <span class="mono">{x}</span>
          </label>
        ))}
        <FieldError errors={errors} at="/scopes" />
      </fieldset>
      <OtherErrors errors={errors} shown={(p) => ['/name', '/user_id', '/scopes'].includes(p)} />
      {error !== null && !Object.keys(errors).length && <ErrorBox error={error} />}
      <div class="actions">
        <button type="submit" class="primary" id="token-create">
          {t('admin.create')}
        </button>
      </div>
    </form>
  );
}
