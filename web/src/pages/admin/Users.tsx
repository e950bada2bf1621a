// Users and teams: list, create, edit role / team / display name, disable and enable;
// teams with their supervisor. GET/POST /api/v1/users, PATCH /api/v1/users/{id} (If-Match),
// GET/POST /api/v1/teams, PATCH /api/v1/teams/{id} (If-Match). Field errors of a 422 are
// shown under the control its JSON Pointer names.
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, fieldErrors } from '../../api';
import { ErrorBox, Loading } from '../../components/common';
import { t, type MessageKey } from '../../i18n';
import { useSession } from '../../session';
import { type Notice, FieldError, OtherErrors } from './Admin';

export interface UserRec {
  id: number;
  username: string;
  display_name: string;
  role: 'agent' | 'supervisor' | 'admin';
  team_id: number | null;
  team: string | null;
  email: string | null;
  disabled: boolean;
  version: number;
}
export interface TeamRec {
  id: number;
  name: string;
  display_name: string;
  supervisor_id: number | null;
  version: number;
}

const ROLES = ['agent', 'supervisor', 'admin'] as const;

export async function loadAll<T>(path: string): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 50; i++) {
    const sep = path.includes('?') ? '&' : '?';
    const r: { data: { items: T[]; next_cursor: string | null } } = await api('GET', `${path}${sep}limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    out.push(...r.data.items);
    cursor = r.data.next_cursor;
    if (!cursor) break;
  }
  return out;
}

export function teamLabel(tm: TeamRec | undefined): string {
  return tm ? tm.display_name || tm.name : '';
}

export function Users() {
  const s = useSession();
  const admin = s?.user.role === 'admin';
  const [users, setUsers] = useState<UserRec[] | null>(null);
  const [teams, setTeams] = useState<TeamRec[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [editing, setEditing] = useState<number | null>(null);
  const [notice, setNotice] = useState<Notice>(null);

  const load = async () => {
    setError(null);
    try {
      const [u, tm] = await Promise.all([loadAll<UserRec>('/api/v1/users'), loadAll<TeamRec>('/api/v1/teams')]);
      setUsers(u);
      setTeams(tm);
    } catch (e) {
      setError(e);
    }
  };
  useEffect(() => void load(), []);

  if (error) return <ErrorBox error={error} onRetry={() => void load()} />;
  if (!users) return <Loading />;
  const teamById = new Map(teams.map((x) => [x.id, x]));
  return (
    <div class="admin-body">
      {notice && (
        <p class="notice ok" role="status">
          {t(notice[0], notice[1])}
        </p>
      )}
      {!admin && <p class="muted">{t('admin.adminOnly')}</p>}
      <section class="card">
        <header class="card-head">
          <h2>{t('users.title')}</h2>
          <span class="muted">{t('users.count', { n: users.length })}</span>
        </header>
        <div class="table-wrap">
          <table class="list" id="users">
            <thead>
              <tr>
                <th scope="col">{t('users.username')}</th>
                <th scope="col">{t('users.displayName')}</th>
                <th scope="col">{t('users.role')}</th>
                <th scope="col">{t('users.team')}</th>
                <th scope="col" class="wide">{t('users.email')}</th>
                <th scope="col">{t('users.status')}</th>
                {admin && <th scope="col" />}
              </tr>
            </thead>
            <tbody>
              {users.map((u) =>
                editing === u.id ? (
                  <UserEdit
                    key={u.id}
                    user={u}
                    teams={teams}
                    onDone={(nu) => {
                      setEditing(null);
                      if (nu) {
                        setUsers(users.map((x) => (x.id === nu.id ? nu : x)));
                        setNotice(['admin.saved']);
                      }
                    }}
                    onStale={() => {
                      setEditing(null);
                      setNotice(['admin.stale']);
                      void load();
                    }}
                  />
                ) : (
                  <tr key={u.id} class={u.disabled ? 'disabled' : ''} data-user={u.username}>
                    <td class="mono">{u.username}</td>
                    <td>{u.display_name}</td>
                    <td>{t(`user.role.${u.role}` as MessageKey)}</td>
                    <td>{u.team_id ? teamLabel(teamById.get(u.team_id)) || u.team : <span class="muted">{t('users.noTeam')}</span>}</td>
                    <td class="wide">{u.email ?? ''}</td>
                    <td>{u.disabled ? <span class="tag off">{t('users.disabled')}</span> : <span class="tag">{t('users.active')}</span>}</td>
                    {admin && (
                      <td>
                        <button type="button" class="small edit" onClick={() => setEditing(u.id)} aria-label={`${t('admin.edit')} ${u.username}`}>
                          {t('admin.edit')}
                        </button>
                      </td>
                    )}
                  </tr>
                ),
              )}
            </tbody>
          </table>
        </div>
        {admin && (
          <NewUser
            teams={teams}
            onCreated={(u) => {
              setUsers([...users, u]);
              setNotice(['users.created', { name: u.username }]);
            }}
          />
        )}
      </section>
      <Teams
        teams={teams}
        users={users}
        admin={admin}
        onChange={(tm) => {
          setTeams(tm);
          setNotice(['admin.saved']);
        }}
        onStale={() => {
          setNotice(['admin.stale']);
          void load();
        }}
      />
    </div>
  );
}

function UserEdit(props: { user: UserRec; teams: TeamRec[]; onDone: (u: UserRec | null) => void; onStale: () => void }) {
  const u = props.user;
  const [display, setDisplay] = useState(u.display_name);
  const [role, setRole] = useState(u.role);
  const [team, setTeam] = useState(u.team_id ? String(u.team_id) : '');
  const [email, setEmail] = useState(u.email ?? '');
  const [disabled, setDisabled] = useState(u.disabled);
  const [password, setPassword] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const save = async (e: Event) => {
    e.preventDefault();
    const patch: Record<string, unknown> = {};
    if (display !== u.display_name) patch.display_name = display;
    if (role !== u.role) patch.role = role;
    const tid = team ? Number(team) : null;
    if (tid !== u.team_id) patch.team_id = tid;
    if ((email || null) !== u.email) patch.email = email || null;
    if (disabled !== u.disabled) patch.disabled = disabled;
    if (!Object.keys(patch).length && !password) return props.onDone(null);
    setBusy(true);
    setErrors({});
    setError(null);
    try {
      // A password reset first (it ends the user's sessions and bumps the version).
      if (password) await api('POST', `/api/v1/users/${u.id}/password`, { password });
      const fresh = password ? (await api<UserRec>('GET', `/api/v1/users/${u.id}`)).data : u;
      const r = Object.keys(patch).length ? (await api<UserRec>('PATCH', `/api/v1/users/${u.id}`, patch, { ifMatch: `"${fresh.version}"` })).data : fresh;
      props.onDone(r);
    } catch (x) {
      if (x instanceof ApiError && x.status === 412) return props.onStale();
      setErrors(fieldErrors(x));
      setError(x);
    } finally {
      setBusy(false);
    }
  };
  const shown = (p: string) => ['/display_name', '/role', '/team_id', '/email', '/disabled', '/password'].includes(p);
  return (
    <tr class="editing" data-user={u.username}>
      <td class="mono">{u.username}</td>
      <td>
        <input id="edit-display" value={display} aria-label={t('users.displayName')} onInput={(e) => setDisplay(e.currentTarget.value)} />
        <FieldError errors={errors} at="/display_name" />
      </td>
      <td>
        <select id="edit-role" value={role} aria-label={t('users.role')} onChange={(e) => setRole(e.currentTarget.value as UserRec['role'])}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {t(`user.role.${r}` as MessageKey)}
            </option>
          ))}
        </select>
        <FieldError errors={errors} at="/role" />
      </td>
      <td>
        <select id="edit-team" value={team} aria-label={t('users.team')} onChange={(e) => setTeam(e.currentTarget.value)}>
          <option value="">{t('users.noTeam')}</option>
          {props.teams.map((x) => (
            <option key={x.id} value={String(x.id)}>
              {teamLabel(x)}
            </option>
          ))}
        </select>
        <FieldError errors={errors} at="/team_id" />
      </td>
      <td class="wide">
        <input id="edit-email" type="email" value={email} aria-label={t('users.email')} onInput={(e) => setEmail(e.currentTarget.value)} />
        <FieldError errors={errors} at="/email" />
      </td>
      <td>
        <label class="check">
          <input id="edit-disabled" type="checkbox" checked={disabled} onChange={(e) => setDisabled(e.currentTarget.checked)} />
          {t('users.disable')}
        </label>
        <input id="edit-password" type="password" autocomplete="new-password" placeholder={t('users.resetPassword')} aria-label={t('users.resetPassword')} value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        <FieldError errors={errors} at="/password" />
      </td>
      <td>
        <form class="inline" onSubmit={save}>
          <button type="submit" class="primary small" id="edit-save" disabled={busy}>
            {t('common.save')}
          </button>
          <button type="button" class="small" onClick={() => props.onDone(null)}>
            {t('common.cancel')}
          </button>
        </form>
        <OtherErrors errors={errors} shown={shown} />
        {error !== null && !Object.keys(errors).length && <ErrorBox error={error} />}
      </td>
    </tr>
  );
}

function NewUser(props: { teams: TeamRec[]; onCreated: (u: UserRec) => void }) {
  const [username, setUsername] = useState('');
  const [display, setDisplay] = useState('');
  const [role, setRole] = useState<UserRec['role']>('agent');
  const [team, setTeam] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setError(null);
    const body: Record<string, unknown> = { username, role, password };
    if (display) body.display_name = display;
    if (team) body.team_id = Number(team);
    if (email) body.email = email;
    try {
      const r = await api<UserRec>('POST', '/api/v1/users', body);
      props.onCreated(r.data);
      setUsername('');
      setDisplay('');
      setEmail('');
      setPassword('');
    } catch (x) {
      setErrors(fieldErrors(x));
      setError(x);
    } finally {
      setBusy(false);
    }
  };
  const shown = (p: string) => ['/username', '/display_name', '/role', '/team_id', '/email', '/password'].includes(p);
  return (
    <form class="admin-form" id="new-user" onSubmit={submit}>
      <h3>{t('users.new')}</h3>
      <div class="form-grid">
        <label>
          {t('users.username')}
          <input id="new-username" value={username} required autocomplete="off" onInput={(e) => setUsername(e.currentTarget.value)} />
          <FieldError errors={errors} at="/username" />
        </label>
        <label>
          {t('users.displayName')}
          <input id="new-display" value={display} onInput={(e) => setDisplay(e.currentTarget.value)} />
          <FieldError errors={errors} at="/display_name" />
        </label>
        <label>
          {t('users.role')}
          <select id="new-role" value={role} onChange={(e) => setRole(e.currentTarget.value as UserRec['role'])}>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {t(`user.role.${r}` as MessageKey)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('users.team')}
          <select id="new-team" value={team} onChange={(e) => setTeam(e.currentTarget.value)}>
            <option value="">{t('users.noTeam')}</option>
            {props.teams.map((x) => (
              <option key={x.id} value={String(x.id)}>
                {teamLabel(x)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('users.email')}
          <input id="new-email" type="email" value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
          <FieldError errors={errors} at="/email" />
        </label>
        <label>
          {t('users.password')}
          <input id="new-password" type="password" value={password} autocomplete="new-password" required onInput={(e) => setPassword(e.currentTarget.value)} />
          <FieldError errors={errors} at="/password" />
        </label>
      </div>
      <OtherErrors errors={errors} shown={shown} />
      {error !== null && !Object.keys(errors).length && <ErrorBox error={error} />}
      <div class="actions">
        <button type="submit" class="primary" id="new-user-submit" disabled={busy}>
          {t('admin.create')}
        </button>
      </div>
    </form>
  );
}

function Teams(props: { teams: TeamRec[]; users: UserRec[]; admin: boolean; onChange: (tm: TeamRec[]) => void; onStale: () => void }) {
  const [name, setName] = useState('');
  const [display, setDisplay] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const sups = props.users.filter((u) => u.role !== 'agent' && !u.disabled);

  const create = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    setError(null);
    try {
      const r = await api<TeamRec>('POST', '/api/v1/teams', display ? { name, display_name: display } : { name });
      props.onChange([...props.teams, r.data]);
      setName('');
      setDisplay('');
    } catch (x) {
      setErrors(fieldErrors(x));
      setError(x);
    }
  };
  const setSupervisor = async (tm: TeamRec, v: string) => {
    setError(null);
    try {
      const r = await api<TeamRec>('PATCH', `/api/v1/teams/${tm.id}`, { supervisor_id: v ? Number(v) : null }, { ifMatch: `"${tm.version}"` });
      props.onChange(props.teams.map((x) => (x.id === tm.id ? r.data : x)));
    } catch (x) {
      if (x instanceof ApiError && x.status === 412) return props.onStale();
      setError(x);
    }
  };
  return (
    <section class="card">
      <h2>{t('teams.title')}</h2>
      <div class="table-wrap">
        <table class="list" id="teams">
          <thead>
            <tr>
              <th scope="col">{t('teams.name')}</th>
              <th scope="col">{t('users.displayName')}</th>
              <th scope="col">{t('teams.supervisor')}</th>
              <th scope="col">{t('teams.members')}</th>
            </tr>
          </thead>
          <tbody>
            {props.teams.map((tm) => (
              <tr key={tm.id}>
                <td class="mono">{tm.name}</td>
                <td>{tm.display_name}</td>
                <td>
                  {props.admin ? (
                    <select value={tm.supervisor_id ? String(tm.supervisor_id) : ''} aria-label={`${t('teams.supervisor')} ${tm.name}`} onChange={(e) => void setSupervisor(tm, e.currentTarget.value)}>
                      <option value="">{t('teams.none')}</option>
                      {sups.map((u) => (
                        <option key={u.id} value={String(u.id)}>
                          {u.display_name || u.username}
                        </option>
                      ))}
                    </select>
                  ) : (
                    (props.users.find((u) => u.id === tm.supervisor_id)?.display_name ?? t('teams.none'))
                  )}
                </td>
                <td>{props.users.filter((u) => u.team_id === tm.id && !u.disabled).length}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {error !== null && !Object.keys(errors).length && <ErrorBox error={error} />}
      {props.admin && (
        <form class="admin-form inline-form" id="new-team" onSubmit={create}>
          <h3>{t('teams.new')}</h3>
          <label>
            {t('teams.name')}
            <input id="new-team-name" value={name} required onInput={(e) => setName(e.currentTarget.value)} />
            <FieldError errors={errors} at="/name" />
          </label>
          <label>
            {t('users.displayName')}
            <input id="new-team-display" value={display} onInput={(e) => setDisplay(e.currentTarget.value)} />
            <FieldError errors={errors} at="/display_name" />
          </label>
          <button type="submit" class="primary">
            {t('admin.create')}
          </button>
        </form>
      )}
    </section>
  );
}
