// A small in-browser fake of the JSON API for local development ONLY
// (`VITE_FAKE_API=1 npm run dev`): lets screens be built before their API lands. It is
// dropped from production builds (import.meta.env.DEV) and never used by the tests.
const user = { id: 1, username: 'dev', display_name: 'Dev Agent', role: 'supervisor', team_id: 1, locale: null };
const customers = Array.from({ length: 73 }, (_, i) => ({
  id: i + 1,
  kind: 'person',
  name: i % 2 ? `张伟 ${i + 1}` : `Alice Example ${i + 1}`,
  phones: [`1380000${String(1000 + i)}`],
  emails: [`customer${i + 1}@example.com`],
  id_number: `110***********${String(1000 + i)}`,
  updated_at: new Date(Date.now() - i * 3600e3).toISOString(),
}));
const cases: Record<number, { id: number; type: string; subject: string; status: string; priority: string; customer_id: number; assignee_id: number | null; opened_at: string; version: number }> = {
  1: { id: 1, type: 'repair', subject: 'Leaking window', status: 'new', priority: 'high', customer_id: 1, assignee_id: null, opened_at: new Date().toISOString(), version: 1 },
};

function json(status: number, body: unknown, headers: Record<string, string> = {}) {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
}

export function installFakeApi() {
  const real = window.fetch.bind(window);
  window.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url, location.href);
    if (!url.pathname.startsWith('/api/v1/')) return real(input, init);
    const method = init?.method ?? 'GET';
    const body = init?.body ? JSON.parse(String(init.body)) : null;
    const p = url.pathname.slice('/api/v1'.length);
    await new Promise((r) => setTimeout(r, 120));
    if (p === '/session' && method === 'POST')
      return body.password === 'secret'
        ? json(201, { user, csrf_token: 'dev', expires_at: new Date(Date.now() + 8 * 3600e3).toISOString() })
        : json(401, { title: 'Unauthorized', status: 401, detail: 'wrong username or password' });
    if (p === '/session' && method === 'DELETE') return new Response(null, { status: 204 });
    if (p === '/session') return json(200, { user });
    if (p === '/session/password') return new Response(null, { status: 204 });
    if (p === '/search') {
      const q = (url.searchParams.get('q') ?? '').toLowerCase();
      return json(200, {
        items: customers.filter((c) => c.name.toLowerCase().includes(q)).slice(0, 8).map((c) => ({ kind: 'customer', id: c.id, title: c.name, snippet: c.phones[0] })),
      });
    }
    if (p === '/customers') {
      const lim = Number(url.searchParams.get('limit') ?? 50);
      const from = Number(url.searchParams.get('cursor') ?? 0);
      const next = from + lim < customers.length ? String(from + lim) : null;
      return json(200, { items: customers.slice(from, from + lim), next_cursor: next });
    }
    let m = p.match(/^\/customers\/(\d+)$/);
    if (m) {
      const c = customers[Number(m[1]) - 1];
      if (!c) return json(404, { title: 'Not Found', status: 404, detail: 'no customer' });
      return json(200, url.searchParams.get('reveal') ? { ...c, id_number: `11010519491231${String(1000 + c.id)}` } : c);
    }
    if ((m = p.match(/^\/customers\/(\d+)\/timeline$/)))
      return json(200, {
        items: ['phone', 'email', 'counter', 'phone'].map((ch, i) => ({
          type: 'interaction',
          at: new Date(Date.now() - i * 86400e3).toISOString(),
          record: { id: i + 1, kind: ch === 'phone' ? 'call' : ch === 'email' ? 'email' : 'visit', channel: ch, subject: `Contact ${i + 1}` },
        })),
      });
    if ((m = p.match(/^\/cases\/(\d+)(?:\/(\w+))?$/))) {
      const c = cases[Number(m[1])];
      if (!c) return json(404, { title: 'Not Found', status: 404, detail: 'no case' });
      const h = new Headers(init?.headers);
      if (method !== 'GET' && h.get('If-Match') !== `"${c.version}"`) return json(412, { title: 'Precondition Failed', status: 412 });
      const to: Record<string, string> = { resolve: 'resolved', reopen: 'open', close: 'closed', pending: 'pending', assign: c.status === 'new' ? 'open' : c.status };
      if (m[2]) c.status = to[m[2]] ?? c.status;
      if (m[2] === 'assign') c.assignee_id = body.assignee_id;
      if (method === 'PATCH') Object.assign(c, body);
      if (method !== 'GET') c.version++;
      return json(200, c, { ETag: `"${c.version}"` });
    }
    if (p === '/events') return json(201, { id: 1, status: 'created' });
    if (p === '/users') return json(200, { items: [user, { ...user, id: 2, username: 'ann', display_name: 'Ann' }], next_cursor: null });
    return json(404, { title: 'Not Found', status: 404, detail: `no such resource: ${url.pathname}` });
  };
}
