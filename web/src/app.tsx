// The application: picks the page for the path, keeps signed-out users on the sign-in
// page, and wraps workspace pages in the shell. The counter page is full screen.
import { useEffect } from 'preact/hooks';
import { useLocale } from './i18n';
import { match, navigate, usePath } from './router';
import { useSession } from './session';
import { Shell } from './components/Shell';
import { SignIn } from './pages/SignIn';
import { Customers } from './pages/Customers';
import { Customer360 } from './pages/Customer360';
import { CaseView } from './pages/CaseView';
import { Counter } from './pages/Counter';
import { LazyAdmin } from './components/LazyAdmin';
import { LazyWork } from './components/LazyWork';
import { LazyKpi } from './components/LazyKpi';

/** Where the app must go instead of rendering path, or null to render it. */
function redirectFor(signedIn: boolean, path: string): string | null {
  if (!signedIn)
    return path === '/app/sign-in' ? null : `/app/sign-in${path.startsWith('/app/') ? `?next=${encodeURIComponent(path)}` : ''}`;
  if (path === '/app/sign-in' || path === '/' || path === '/app' || path === '/app/') {
    const next = new URLSearchParams(location.search).get('next');
    return next && next.startsWith('/app/') && next !== '/app/sign-in' ? next : '/app/work';
  }
  return null;
}

export function App() {
  useLocale(); // re-render everything when the language changes
  const path = usePath();
  const s = useSession();
  const to = redirectFor(!!s, path);

  useEffect(() => {
    if (to) navigate(to, true);
  }, [to]);

  // Nothing is mounted on the way to another page (it would fetch for nothing).
  if (!s) return <SignIn />;
  if (to) return null;
  if (path === '/app/counter') return <Counter />;

  let page;
  let p: Record<string, string> | null;
  if ((p = match('/app/customers/:id', path))) page = <Customer360 id={p.id!} />;
  else if ((p = match('/app/cases/:id', path))) page = <CaseView id={p.id!} />;
  // ui2: the agent's inbox (home) and the supervisor's live board
  else if (path === '/app/work') page = <LazyWork page="mine" />;
  else if (path === '/app/board') page = <LazyWork page="board" />;
  // ui3: dashboards and scorecards (lazy chunk)
  else if (path === '/app/dashboards') page = <LazyKpi view="dashboards" />;
  else if (path === '/app/scorecards') page = <LazyKpi view="scorecards" />;
  else if ((p = match('/app/scorecards/:id', path))) page = <LazyKpi view="evaluation" id={p.id!} />;
  else if (path === '/app/admin' || path === '/app/admin/') page = <LazyAdmin section="users" />;
  else if ((p = match('/app/admin/:section', path) ?? match('/app/admin/:section/:id', path)))
    page = <LazyAdmin section={p.section!} id={p.id} />;
  else page = <Customers />;
  return <Shell>{page}</Shell>;
}
