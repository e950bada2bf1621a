// Change-password dialog: POST /api/v1/session/password {current_password, new_password}.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { ErrorBox } from '../components/common';
import { t } from '../i18n';

const MIN_LEN = 8;

export function ChangePassword(props: { onClose: () => void }) {
  const dlg = useRef<HTMLDialogElement>(null);
  const [cur, setCur] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [msg, setMsg] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    dlg.current?.showModal();
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    setMsg(null);
    setError(null);
    if (next.length < MIN_LEN) return setMsg(t('pw.tooShort', { n: MIN_LEN }));
    if (next !== again) return setMsg(t('pw.mismatch'));
    try {
      await api('POST', '/api/v1/session/password', { current_password: cur, new_password: next });
      setDone(true);
    } catch (err) {
      if (err instanceof ApiError && err.status === 422) setMsg(err.problem.errors?.[0]?.detail ?? err.message);
      else setError(err);
    }
  };

  return (
    <dialog ref={dlg} class="dialog" onClose={props.onClose} aria-labelledby="pw-title">
      <form onSubmit={submit} method="dialog">
        <h2 id="pw-title">{t('pw.title')}</h2>
        {done ? (
          <p role="status">{t('pw.done')}</p>
        ) : (
          <>
            <label>
              {t('pw.current')}
              <input type="password" autocomplete="current-password" value={cur} onInput={(e) => setCur(e.currentTarget.value)} />
            </label>
            <label>
              {t('pw.new')}
              <input type="password" autocomplete="new-password" value={next} onInput={(e) => setNext(e.currentTarget.value)} />
            </label>
            <label>
              {t('pw.confirm')}
              <input type="password" autocomplete="new-password" value={again} onInput={(e) => setAgain(e.currentTarget.value)} />
            </label>
          </>
        )}
        {msg && (
          <p class="error" role="alert">
            {msg}
          </p>
        )}
        {error !== null && <ErrorBox error={error} />}
        <div class="actions">
          <button type="button" onClick={() => dlg.current?.close()}>
            {done ? t('common.close') : t('common.cancel')}
          </button>
          {!done && (
            <button type="submit" class="primary">
              {t('pw.submit')}
            </button>
          )}
        </div>
      </form>
    </dialog>
  );
}
