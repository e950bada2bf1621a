// The admin screens load on first use: the dynamic import keeps them (users and teams,
// calendars, processes, API tokens) out of the workspace's first-load JavaScript.
import { useEffect, useState } from 'preact/hooks';
import { ErrorBox, Loading } from './common';

type AdminModule = typeof import('../pages/admin/Admin');

let cached: AdminModule | null = null;

export function LazyAdmin(props: { section: string; id?: string }) {
  const [mod, setMod] = useState<AdminModule | null>(cached);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (mod) return;
    import('../pages/admin/Admin')
      .then((m) => {
        cached = m;
        setMod(() => m);
      })
      .catch((e) => setError(e));
  }, []);
  if (error) return <ErrorBox error={error} />;
  if (!mod) return <Loading />;
  return <mod.Admin section={props.section} id={props.id} />;
}
