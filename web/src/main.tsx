// Entry point: styles, the dev-only fake API (never in a production build), the app.
import { render } from 'preact';
import './styles.css';
import { App } from './app';
import { restoreSession } from './session';

async function start() {
  if (import.meta.env.DEV && import.meta.env.VITE_FAKE_API === '1') {
    const { installFakeApi } = await import('./dev/fake');
    installFakeApi();
  }
  await restoreSession();
  render(<App />, document.getElementById('app')!);
}
void start();
