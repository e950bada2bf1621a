// The workspace shell: top bar (brand, navigation, search, language, user menu), the
// page, global keyboard shortcuts ("g c" customers, "g k" counter, "?" help).
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { t, type MessageKey } from '../i18n';
import { navigate, usePath } from '../router';
import { signOut, useSession } from '../session';
import { ChangePassword } from '../pages/ChangePassword';
import { LangSwitch, Link } from './common';
import { Search } from './Search';
import { Bell } from './Bell';
import { PresenceSwitch } from './Presence';
import { liveStart, liveStop } from '../live';

function isTyping(e: KeyboardEvent) {
  const el = e.target as HTMLElement;
  return /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName) || el.isContentEditable;
}

export function Shell(props: { children: ComponentChildren }) {
  const s = useSession();
  const path = usePath();
  const [menu, setMenu] = useState(false);
  const [pw, setPw] = useState(false);
  const [help, setHelp] = useState(false);
  const menuRef = useRef<HTMLDivElement>(null);

  // ui2: one live stream per signed-in tab, closed when the shell goes (sign-out).
  useEffect(() => {
    liveStart();
    return liveStop;
  }, []);

  useEffect(() => {
    let prefix = '';
    let timer = 0;
    const onKey = (e: KeyboardEvent) => {
      if (isTyping(e) || e.ctrlKey || e.metaKey || e.altKey) return;
      if (prefix === 'g') {
        prefix = '';
        if (e.key === 'c') navigate('/app/customers');
        else if (e.key === 'w') navigate('/app/work');
        else if (e.key === 'b') navigate('/app/board');
        else if (e.key === 'k') navigate('/app/counter');
        else if (e.key === 'a') navigate('/app/admin');
        return;
      }
      if (e.key === 'g') {
        prefix = 'g';
        clearTimeout(timer);
        timer = window.setTimeout(() => (prefix = ''), 1000);
      } else if (e.key === '?') {
        setHelp((h) => !h);
      } else if (e.key === 'Escape') {
        setHelp(false);
        setMenu(false);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  useEffect(() => {
    if (!menu) return;
    const close = (e: MouseEvent) => {
      if (!menuRef.current?.contains(e.target as Node)) setMenu(false);
    };
    document.addEventListener('mousedown', close);
    return () => document.removeEventListener('mousedown', close);
  }, [menu]);

  const nav = (href: string, key: MessageKey) => (
    <Link href={href} class={path.startsWith(href) ? 'active' : ''}>
      {t(key)}
    </Link>
  );

  return (
    <div class="shell">
      <a class="skip" href="#main">
        {t('app.skip')}
      </a>
      <header class="topbar">
        <Link href="/app/customers" class="brand">
          <img src="/static/icon.svg" alt="" width={28} height={28} />
          <span>{t('app.name')}</span>
        </Link>
        <nav aria-label={t('nav.main')} class="mainnav">
          {nav('/app/work', 'nav.work')}
          {(s?.user.role === 'admin' || s?.user.role === 'supervisor') && nav('/app/board', 'nav.board')}
          {nav('/app/customers', 'nav.customers')}
          {nav('/app/counter', 'nav.counter')}
          {(s?.user.role === 'admin' || s?.user.role === 'supervisor') && nav('/app/dashboards', 'nav.dashboards')}
          {nav('/app/scorecards', 'nav.scorecards')}
          {(s?.user.role === 'admin' || s?.user.role === 'supervisor') && nav('/app/admin', 'nav.admin')}
        </nav>
        <Search />
        <PresenceSwitch />
        <Bell />
        <LangSwitch id="lang" />
        <div class="usermenu" ref={menuRef}>
          <button
            type="button"
            id="user-menu"
            aria-haspopup="menu"
            aria-expanded={menu}
            aria-label={t('user.menu')}
            onClick={() => setMenu(!menu)}
          >
            <span class="avatar" aria-hidden="true">
              {(s?.user.display_name || s?.user.username || '?').slice(0, 1).toUpperCase()}
            </span>
            <span class="username">{s?.user.display_name || s?.user.username}</span>
          </button>
          {menu && (
            <div role="menu" class="menu">
              <p class="muted menu-role">{s && t(`user.role.${s.user.role}` as MessageKey)}</p>
              <button
                type="button"
                role="menuitem"
                onClick={() => {
                  setMenu(false);
                  setPw(true);
                }}
              >
                {t('user.changePassword')}
              </button>
              <button type="button" role="menuitem" id="sign-out" onClick={() => void signOut()}>
                {t('user.signOut')}
              </button>
            </div>
          )}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {props.children}
      </main>
      {pw && <ChangePassword onClose={() => setPw(false)} />}
      {help && (
        <div class="help card" role="dialog" aria-label={t('common.shortcuts')}>
          <h2>{t('common.shortcuts')}</h2>
          <p>{t('common.shortcutsHelp')}</p>
          <button type="button" onClick={() => setHelp(false)}>
            {t('common.close')}
          </button>
        </div>
      )}
    </div>
  );
}
