// The JSON API client: every call goes through api(). It sends the CSRF token on every
// non-GET request, parses problem+json errors into ApiError, and turns a 401 on any call
// but the sign-in itself into "session expired" (the app returns to the sign-in page).
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: { pointer: string; detail: string }[];
}

export class ApiError extends Error {
  constructor(
    public status: number,
    public problem: Problem,
    public path: string,
  ) {
    super(problem.detail || problem.title || `HTTP ${status}`);
  }
  /** The route does not exist on this server (part of the API not built yet). */
  get missingRoute(): boolean {
    return this.status === 404 && /no such resource/.test(this.problem.detail ?? '');
  }
}

export interface ApiResult<T> {
  data: T;
  etag: string | null;
  status: number;
}

let csrfToken: string | null = null;
let onExpired: (() => void) | null = null;

export function setCsrfToken(tok: string | null) {
  csrfToken = tok;
}
export function setExpiredHandler(fn: () => void) {
  onExpired = fn;
}

export interface ApiOptions {
  ifMatch?: string | null;
  /** A 401 is an answer, not an expired session (the sign-in call). */
  noExpire?: boolean;
  signal?: AbortSignal;
  /** Send body as this text with this Content-Type instead of JSON (holiday notices). */
  text?: { body: string; type: string };
}

export async function api<T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  opts: ApiOptions = {},
): Promise<ApiResult<T>> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (opts.text) headers['Content-Type'] = opts.text.type;
  else if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  if (opts.ifMatch) headers['If-Match'] = opts.ifMatch;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: opts.text ? opts.text.body : body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      signal: opts.signal,
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, { title: 'offline', detail: String(e) }, path);
  }
  const text = await res.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { detail: text };
    }
  }
  if (!res.ok) {
    const err = new ApiError(res.status, (data as Problem) ?? {}, path);
    if (res.status === 401 && !opts.noExpire && onExpired) onExpired();
    throw err;
  }
  return { data: data as T, etag: res.headers.get('ETag'), status: res.status };
}

/** A version-4 UUID; crypto.randomUUID needs a secure context, getRandomValues does not. */
export function uuid(): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The field errors of a 422 answer by JSON Pointer ("/steps/0/standard/within" → detail). */
export function fieldErrors(e: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (e instanceof ApiError && e.problem.errors)
    for (const x of e.problem.errors) out[x.pointer] = out[x.pointer] ? `${out[x.pointer]}; ${x.detail}` : x.detail;
  return out;
}
