// The console's only way to the node: the public HTTP APIs, with the key as a bearer header.
// The key lives in this tab's session storage: closed tab, gone key; no cookie, so nothing a
// cross-site request could carry.

const KEY = 'keld-console-key';

export function key() { return sessionStorage.getItem(KEY); }
export function setKey(k) { sessionStorage.setItem(KEY, k); }
export function signOut() { sessionStorage.removeItem(KEY); }

/** An answer that was not 2xx, with the problem+json the node sent (type, title, detail, field). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem && problem.detail ? problem.detail : `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

function headers(extra) {
  const h = Object.assign({}, extra);
  const k = key();
  if (k) h['Authorization'] = 'Bearer ' + k;
  return h;
}

async function failure(res) {
  let problem = null;
  try { problem = await res.json(); } catch (e) { problem = null; }
  return new ApiError(res.status, problem);
}

export async function get(path) {
  const res = await fetch(path, { headers: headers({ Accept: 'application/json' }) });
  if (!res.ok) throw await failure(res);
  return res.json();
}

export async function text(path, accept) {
  const res = await fetch(path, { headers: headers({ Accept: accept || 'text/plain' }) });
  if (!res.ok) throw await failure(res);
  return res.text();
}

export async function send(method, path, body) {
  const init = { method, headers: headers({ Accept: 'application/json' }) };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  if (!res.ok) throw await failure(res);
  return res.status === 204 ? null : res.json();
}

/** Fetches a file with the key and hands it to the browser as a download (a plain link cannot carry the header). */
export async function download(path, fallbackName) {
  const res = await fetch(path, { headers: headers({ Accept: 'text/csv' }) });
  if (!res.ok) throw await failure(res);
  const disposition = res.headers.get('Content-Disposition') || '';
  const m = /filename="([^"]+)"/.exec(disposition);
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = m ? m[1] : fallbackName;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  return a.download;
}

/**
 * Follows a server-sent event stream with the key as a header (EventSource cannot send one):
 * calls onEvent(name, data) per event until the stream ends or signal aborts.
 */
export async function follow(path, onEvent, signal) {
  const res = await fetch(path, { headers: headers({ Accept: 'text/event-stream' }), signal });
  if (!res.ok) throw await failure(res);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let name = 'message';
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).replace(/\r$/, '');
      buffer = buffer.slice(nl + 1);
      if (line === '') {
        if (data.length) onEvent(name, data.join('\n'));
        name = 'message';
        data = [];
      } else if (line.startsWith(':')) {
        // a keep-alive comment
      } else if (line.startsWith('event:')) {
        name = line.slice(6).trim();
      } else if (line.startsWith('data:')) {
        data.push(line.slice(5).replace(/^ /, ''));
      }
    }
  }
}
