// The agent's inbox and the supervisor's live board load on first use: the dynamic import
// keeps them out of the workspace's first-load JavaScript.
import { useEffect, useState } from 'preact/hooks';
import { ErrorBox, Loading } from './common';

type WorkModule = typeof import('../pages/work/index');

let cached: WorkModule | null = null;

export function LazyWork(props: { page: 'mine' | 'board' }) {
  const [mod, setMod] = useState<WorkModule | null>(cached);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (mod) return;
    import('../pages/work/index')
      .then((m) => {
        cached = m;
        setMod(() => m);
      })
      .catch((e) => setError(e));
  }, []);
  if (error) return <ErrorBox error={error} />;
  if (!mod) return <Loading />;
  return props.page === 'board' ? <mod.Board /> : <mod.MyWork />;
}
