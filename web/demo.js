// The demo page: a small, readable example of using valet.js.
import { Valet, ValetError } from './valet.js';

const $ = (sel) => document.querySelector(sel);

// The dev token arrives in the URL fragment (never sent to any server). It is
// kept in sessionStorage so a reload (which resumes uploads) still works, and
// removed from the address bar so it does not end up in history or screenshots.
const TOKEN_KEY = 'valet.demo.token';
const frag = new URLSearchParams(location.hash.slice(1));
if (frag.get('token')) {
  sessionStorage.setItem(TOKEN_KEY, frag.get('token'));
  frag.delete('token');
  const rest = frag.toString();
  history.replaceState(null, '', location.pathname + location.search + (rest ? '#' + rest : ''));
}
const token = () => sessionStorage.getItem(TOKEN_KEY);

const valet = new Valet({ baseUrl: location.origin, getToken: token });
let stores = [];
let current = null;

/** Turns any error into one sentence a person can act on; never a stack trace. */
function explain(err, what) {
  if (err instanceof ValetError) {
    const detail = err.detail ? `: ${err.detail}` : '.';
    if (err.status === 401 || err.code === 'unauthenticated' || err.code === 'token_expired') {
      return 'Your token has expired or is not valid. Get a new one (make run prints a demo link) and open the page with #token=….';
    }
    if (err.status === 413 || /too_large|too_big|max_size/.test(err.code)) {
      return `${what ? what + ' is' : 'The file is'} too large for this store${detail}`;
    }
    if (err.status === 415 || err.code === 'unsupported_media_type' || err.code === 'content_type_not_allowed') {
      return `This store does not accept that file type${detail}`;
    }
    if (err.code === 'hook_rejected') return `The application refused ${what || 'the file'}${detail}`;
    if (err.status === 403 || err.code === 'permission_denied' || err.code === 'policy_denied') {
      return `Not allowed by the store's policy${detail}`;
    }
    if (err.code === 'network') return `${err.message}. Check that the gateway and storage are running.`;
    if (err.code === 'storage') return `${err.message}.`;
    if (err.status === 503) return `The store is temporarily unavailable${err.retryAfter ? `; retry in ${err.retryAfter}s` : ''}.`;
    return `${err.title || 'Request failed'}${detail}`;
  }
  if (err?.name === 'AbortError') return 'Cancelled.';
  return 'Something went wrong. Reload the page and try again.';
}

function showMessage(text, kind = 'error') {
  const m = $('#message');
  m.textContent = text;
  m.className = kind === 'info' ? 'info' : '';
  m.dataset.kind = kind;
  m.hidden = !text;
}

window.addEventListener('unhandledrejection', (ev) => { ev.preventDefault(); showMessage(explain(ev.reason)); });
window.addEventListener('error', (ev) => { ev.preventDefault(); showMessage(explain(ev.error)); });

function fmtBytes(n) {
  if (!Number.isFinite(n)) return '';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return `${i ? n.toFixed(n < 10 ? 1 : 0) : n} ${u[i]}`;
}

function baseName(key) { return key.split('/').pop(); }

function el(tag, props = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k in e) e[k] = v;
    else e.setAttribute(k, v);
  }
  e.append(...kids);
  return e;
}

// The list shows the caller's own files: the part of the store's key
// template before the first per-upload placeholder, with {subject} filled in.
function subject() {
  try {
    const b64 = token().split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(b64)).sub || '';
  } catch { return ''; }
}

function myPrefix(store) {
  if (store.key_prefix) return store.key_prefix;
  if (store.prefix) return store.prefix;
  const tpl = store.key_template || '';
  const sub = subject();
  let out = '';
  for (const m of tpl.matchAll(/([^{]*)(\{[^}]*\})?/g)) {
    out += m[1];
    if (!m[2]) break;
    if (m[2] === '{subject}' && sub) out += sub;
    else break;
  }
  return out.slice(0, out.lastIndexOf('/') + 1);
}

async function loadStores() {
  if (!token()) {
    showMessage('No token. Open the link that `make run` prints (it ends in #token=…).');
    $('#store').innerHTML = '<option value="">no token</option>';
    return;
  }
  try {
    stores = (await valet.stores()).map((s) => (typeof s === 'string' ? { name: s } : s));
  } catch (e) {
    showMessage(explain(e));
    $('#store').innerHTML = '<option value="">unavailable</option>';
    return;
  }
  const sel = $('#store');
  sel.replaceChildren(...stores.map((s) => el('option', { value: s.name, textContent: s.name + (s.provider ? ` (${s.provider})` : '') })));
  const wanted = frag.get('store') || localStorage.getItem('valet.demo.store');
  if (wanted && stores.some((s) => s.name === wanted)) sel.value = wanted;
  const sub = subject();
  $('#who').textContent = sub ? `signed in as ${sub}` : '';
  await selectStore(sel.value);
}

async function selectStore(name) {
  current = stores.find((s) => s.name === name) || null;
  if (name) localStorage.setItem('valet.demo.store', name);
  $('#viewer').hidden = true;
  renderPending();
  await refreshFiles();
}

async function refreshFiles(highlight) {
  const body = $('#files tbody');
  if (!current) return;
  let objects = [];
  try {
    let cursor = '';
    do {
      const page = await valet.list(current.name, myPrefix(current), { cursor, limit: 200 });
      objects.push(...page.objects);
      cursor = page.next_cursor;
    } while (cursor && objects.length < 1000);
  } catch (e) {
    showMessage(explain(e));
    return;
  }
  objects.sort((a, b) => String(b.last_modified || '').localeCompare(String(a.last_modified || '')));
  if (!objects.length) {
    body.replaceChildren(el('tr', {}, el('td', { colSpan: 4, className: 'muted', textContent: 'No files yet.' })));
    return;
  }
  body.replaceChildren(...objects.map((o) => {
    const open = el('button', { className: 'open', type: 'button', textContent: baseName(o.key), title: o.key });
    open.addEventListener('click', () => openViewer(o));
    const when = o.last_modified ? new Date(o.last_modified).toLocaleString() : '';
    return el('tr', { className: o.key === highlight ? 'new' : '', dataset: { key: o.key, size: String(o.size) } },
      el('td', {}, open),
      el('td', { className: 'num', textContent: fmtBytes(o.size) }),
      el('td', { textContent: o.content_type || '' }),
      el('td', { textContent: when }));
  }));
}

let stopPlayback = /** @type {(() => void) | undefined} */ (undefined);

// hls.js is not bundled (about 600 KB): the page's <meta name="valet-hls"> names
// the ES module to load, by default hls.js 1.7.4 from jsDelivr. Host a copy of
// hls.js's dist/hls.min.mjs (npm hls.js) and point the meta tag at it to serve
// the demo without a CDN.
let hlsModule;
async function loadHls() {
  const url = document.querySelector('meta[name="valet-hls"]')?.getAttribute('content');
  if (!url) throw new Error('no hls.js configured (<meta name="valet-hls">)');
  hlsModule ||= import(url).then((m) => m.default);
  return hlsModule;
}

async function openViewer(o) {
  const name = baseName(o.key);
  const box = $('#viewer-media');
  stopPlayback?.();
  stopPlayback = undefined;
  box.replaceChildren();
  $('#viewer-title').textContent = name;
  $('#viewer-info').textContent = `${fmtBytes(o.size)} · ${o.content_type || 'unknown type'}`;
  $('#download').removeAttribute('href');
  $('#viewer').hidden = false;
  try {
    // Two signed URLs: one inline for the player, one that makes the browser
    // save the file under its original name.
    const [inline, attach] = await Promise.all([
      valet.media(current.name, o.key),
      valet.media(current.name, o.key, { disposition: 'attachment', filename: name }),
    ]);
    const type = inline.content_type || o.content_type || '';
    let media = null;
    if (/\.m3u8$/i.test(o.key) || /mpegurl/i.test(type)) {
      // HLS: the playlist's playback link, with hls.js where the browser has no HLS.
      media = el('video', { controls: true, preload: 'metadata' });
      box.replaceChildren(media);
      const pb = await valet.play(media, current.name, o.key, { Hls: await loadHls().catch(() => undefined) });
      stopPlayback = pb.stop;
    } else if (type.startsWith('video/')) media = el('video', { controls: true, preload: 'metadata', src: inline.url });
    else if (type.startsWith('audio/')) media = el('audio', { controls: true, preload: 'metadata', src: inline.url });
    else if (type.startsWith('image/')) media = el('img', { alt: name, src: inline.url });
    else media = el('p', { className: 'muted', textContent: 'No preview for this type; use the download link.' });
    box.replaceChildren(media);
    const dl = $('#download');
    dl.href = attach.url;
    dl.textContent = `Download ${name}`;
    dl.dataset.key = o.key;
  } catch (e) {
    showMessage(explain(e));
  }
}

function renderPending() {
  const list = valet.pending().filter((p) => current && p.store === current.name);
  $('#pending').hidden = !list.length;
  $('#pending-list').replaceChildren(...list.map((p) => {
    const b = el('button', { type: 'button', textContent: 'Discard' });
    b.addEventListener('click', async () => { await valet.discard(p); renderPending(); });
    return el('li', { dataset: { name: p.name } }, el('span', { textContent: `${p.name} (${fmtBytes(p.size)})` }), b);
  }));
}

function uploadFiles(files) {
  if (!current) { showMessage('Choose a store first.'); return; }
  showMessage('');
  for (const f of files) uploadOne(f);
}

async function uploadOne(file) {
  const list = $('#uploads');
  list.querySelector('.empty')?.remove();
  const ctrl = new AbortController();
  const bar = el('progress', { max: 100, value: 0 });
  const pct = el('span', { className: 'pct', textContent: '0%' });
  const speed = el('span', { className: 'speed muted' });
  const state = el('span', { className: 'state', textContent: 'starting…' });
  const cancel = el('button', { type: 'button', className: 'cancel', textContent: 'Cancel' });
  const item = el('li', { dataset: { name: file.name, state: 'uploading' } },
    el('div', { className: 'row' }, el('span', { className: 'name', textContent: file.name }),
      el('span', { className: 'muted', textContent: fmtBytes(file.size) }), pct, speed, state, cancel),
    bar);
  list.prepend(item);
  cancel.addEventListener('click', () => ctrl.abort());
  try {
    const obj = await valet.upload(file, {
      store: current.name,
      signal: ctrl.signal,
      onProgress: (p) => {
        const v = p.total ? Math.floor((p.bytes / p.total) * 100) : 100;
        bar.value = v;
        pct.textContent = `${v}%`;
        speed.textContent = p.rate ? `${fmtBytes(p.rate)}/s` : '';
        state.textContent = p.resumed ? 'resumed' : 'uploading';
      },
    });
    bar.value = 100;
    pct.textContent = '100%';
    speed.textContent = '';
    state.textContent = 'done';
    item.dataset.state = 'done';
    if (obj?.key) item.dataset.key = obj.key;
    cancel.remove();
    if (obj?.hook !== undefined) {
      // What the application's hook answered to this upload (upload.complete).
      item.append(el('pre', { className: 'hook muted', title: "The application's answer", textContent: JSON.stringify(obj.hook) }));
    }
    renderPending();
    await refreshFiles(obj?.key);
  } catch (e) {
    const aborted = e?.name === 'AbortError';
    item.dataset.state = aborted ? 'cancelled' : 'error';
    state.textContent = aborted ? 'cancelled' : 'failed';
    speed.textContent = '';
    cancel.remove();
    renderPending();
    if (!aborted) showMessage(explain(e, file.name));
  }
}

const drop = $('#drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  uploadFiles([...e.dataTransfer.files]);
});
$('#file-input').addEventListener('change', (e) => {
  uploadFiles([...e.target.files]);
  e.target.value = '';
});
$('#store').addEventListener('change', (e) => selectStore(e.target.value));
$('#refresh').addEventListener('click', () => refreshFiles());

loadStores();
