// Sign-in page: username + password → POST /api/v1/session. Shows why the user is here
// (session expired, signed out) and the language switch, so it works before sign-in.
import { useState } from 'preact/hooks';
import { ApiError } from '../api';
import { ErrorBox, LangSwitch } from '../components/common';
import { t } from '../i18n';
import { signIn, takeNotice } from '../session';

export function SignIn() {
  const [notice] = useState(takeNotice);
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [message, setMessage] = useState<string | null>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setMessage(null);
    if (!username.trim() || !password) {
      setMessage(t('signin.required'));
      return;
    }
    setBusy(true);
    try {
      await signIn(username.trim(), password); // the app then opens props.next
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 422)) setMessage(t('signin.failed'));
      else setError(err);
      setPassword('');
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="signin" id="main">
      <form class="card signin-card" onSubmit={submit} aria-labelledby="signin-title" novalidate>
        <div class="signin-head">
          <img src="/static/icon.svg" alt="" width={40} height={40} />
          <div>
            <h1 id="signin-title">{t('signin.title')}</h1>
            <p class="muted">
              {t('app.name')} · {t('app.tagline')}
            </p>
          </div>
        </div>
        {notice && (
          <p class="notice" role="status" id="signin-notice">
            {t(notice === 'expired' ? 'signin.expired' : 'signin.signedOut')}
          </p>
        )}
        <label>
          {t('signin.username')}
          <input
            id="username"
            name="username"
            autocomplete="username"
            autoFocus
            value={username}
            onInput={(e) => setUsername(e.currentTarget.value)}
          />
        </label>
        <label>
          {t('signin.password')}
          <input
            id="password"
            name="password"
            type="password"
            autocomplete="current-password"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        {message && (
          <p class="error" role="alert" id="signin-message">
            {message}
          </p>
        )}
        {error !== null && <ErrorBox error={error} />}
        <button type="submit" class="primary" id="signin-submit" disabled={busy}>
          {busy ? t('signin.busy') : t('signin.submit')}
        </button>
        <div class="signin-foot">
          <LangSwitch id="lang" />
        </div>
      </form>
    </main>
  );
}
