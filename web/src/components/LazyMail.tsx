// uimail: the case's e-mail thread and reply composer load on first use, so they add
// nothing to the workspace's first-load JavaScript.
import { useEffect, useState } from 'preact/hooks';
import type { Case } from '../pages/CaseView';
import { ErrorBox, Loading } from './common';

type MailModule = typeof import('../pages/mail/EmailThread');

let cached: MailModule | null = null;

export function LazyMail(props: { caseRec: Case; onCase: (c: Case) => void }) {
  const [mod, setMod] = useState<MailModule | null>(cached);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (mod) return;
    import('../pages/mail/EmailThread')
      .then((m) => {
        cached = m;
        setMod(() => m);
      })
      .catch((e) => setError(e));
  }, []);
  if (error) return <ErrorBox error={error} />;
  if (!mod) return <Loading />;
  return <mod.EmailThread caseRec={props.caseRec} onCase={props.onCase} />;
}
