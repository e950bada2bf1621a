// Small shared pieces: links that route inside the app, the language switch, error and
// loading states.
import type { ComponentChildren } from 'preact';
import { ApiError } from '../api';
import { LOCALES, locale, setLocale, t, type Locale } from '../i18n';
import { linkClick } from '../router';
import { saveLocale } from '../session';

export function Link(props: { href: string; class?: string; children: ComponentChildren; id?: string }) {
  return (
    <a href={props.href} class={props.class} id={props.id} onClick={linkClick}>
      {props.children}
    </a>
  );
}

export function LangSwitch(props: { id?: string }) {
  const onChange = (e: Event) => {
    const l = (e.currentTarget as HTMLSelectElement).value as Locale;
    setLocale(l);
    void saveLocale(l);
  };
  return (
    <label class="lang">
      <span class="sr-only">{t('lang.label')}</span>
      <select id={props.id ?? 'lang'} aria-label={t('lang.label')} value={locale()} onChange={onChange}>
        {LOCALES.map((l) => (
          <option key={l} value={l} lang={l}>
            {t(`lang.${l}`)}
          </option>
        ))}
      </select>
    </label>
  );
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.status === 0) return t('common.offline');
    if (e.missingRoute) return t('common.notAvailable', { path: e.path });
    if (e.status === 404) return t('common.notFound');
    if (e.status === 403) return t('common.forbidden');
    return t('common.error', { detail: e.message });
  }
  return t('common.error', { detail: String(e) });
}

export function ErrorBox(props: { error: unknown; onRetry?: () => void }) {
  return (
    <div class="error" role="alert">
      <span>{errorText(props.error)}</span>
      {props.onRetry && (
        <button type="button" onClick={props.onRetry}>
          {t('common.retry')}
        </button>
      )}
    </div>
  );
}

export function Loading() {
  return (
    <p class="muted" aria-live="polite">
      {t('common.loading')}
    </p>
  );
}
