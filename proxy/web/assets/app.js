// tlslens live list: rows arrive over Server-Sent Events (/events), the
// ring's backlog first; only the rows in view are in the DOM.
'use strict';

const ROWH = 40;
const keep = Number(document.body.dataset.keep) || 10000;
const $ = (id) => document.getElementById(id);
const viewport = $('viewport'), spacer = $('spacer'), rowsEl = $('rows');

let all = [];       // rows received since the last clear, oldest first
let shown = [];     // those the filter keeps, oldest first
let pending = [];   // rows received, not yet in all
let lastSeq = 0;
let paused = false;
let query = parseQuery('');
let scheduled = false;

// The same syntax and matching as Go's web.ParseQuery and Query.Match.
function parseQuery(s) {
  const q = { host: '', outcome: '', ja4: '', code: '', text: [] };
  for (const w of s.toLowerCase().split(/\s+/).filter(Boolean)) {
    const i = w.indexOf(':');
    const key = i >= 0 ? w.slice(0, i) : '';
    if (i >= 0 && key in q && key !== 'text') q[key] = w.slice(i + 1);
    else q.text.push(w);
  }
  return q;
}

function rowText(r) {
  const parts = [r.id, r.mode, r.outcome, r.target, r.sni, r.ja4, r.identity, r.error];
  for (const l of [r.client, r.upstream]) if (l) parts.push(l.version, l.suite, l.group, l.alpn);
  return parts.concat(r.codes || []).filter((x) => x).join(' ').toLowerCase();
}

function match(q, r) {
  const has = (s, sub) => (s || '').toLowerCase().includes(sub);
  if (q.host && !has(r.target, q.host) && !has(r.sni, q.host)) return false;
  if (q.outcome && !r.outcome.startsWith(q.outcome)) return false;
  if (q.ja4 && !has(r.ja4, q.ja4)) return false;
  if (q.code && !(r.codes || []).includes(q.code)) return false;
  if (q.text.length === 0) return true;
  if (r._text === undefined) r._text = rowText(r);
  return q.text.every((t) => r._text.includes(t));
}

const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

function leg(l) {
  if (!l) return '<span class="none">—</span>';
  const top = [l.version, l.alpn].filter(Boolean).join(' · ');
  const sub = [l.suite, l.group].filter(Boolean).join(' · ');
  return esc(top) + '<small>' + esc(sub) + '</small>';
}

function findings(f) {
  let h = '';
  if (f.critical) h += '<span class="sev sev-critical">' + f.critical + ' critical</span> ';
  if (f.warn) h += '<span class="sev sev-warn">' + f.warn + ' warn</span> ';
  if (f.info) h += '<span class="sev sev-info">' + f.info + ' info</span>';
  return h;
}

function rowHTML(r) {
  const t = new Date(r.time);
  const time = isNaN(t) ? '' : t.toLocaleTimeString([], { hour12: false });
  return '<a class="row grid" href="/c/' + encodeURIComponent(r.id) + '" data-id="' + esc(r.id) + '">' +
    '<span title="' + esc(r.time) + '">' + esc(time) + '</span>' +
    '<span><span class="out o-' + esc(r.outcome) + '" title="' + esc(r.error) + '">' + esc(r.outcome) + '</span></span>' +
    '<span title="' + esc(r.target) + '">' + esc(r.target) + '<small>' + esc(r.sni || r.mode) + '</small></span>' +
    '<span>' + leg(r.client) + '</span>' +
    '<span>' + leg(r.upstream) + '</span>' +
    '<span class="mono" title="' + esc(r.ja4) + '">' + esc(r.ja4) + (r.identity ? '<small>' + esc(r.identity) + '</small>' : '') + '</span>' +
    '<span>' + findings(r.findings) + '</span></a>';
}

// render draws the rows in view, newest at the top.
function render() {
  const t0 = performance.now();
  spacer.style.height = shown.length * ROWH + 'px';
  const first = Math.max(0, Math.floor(viewport.scrollTop / ROWH) - 5);
  const count = Math.ceil(viewport.clientHeight / ROWH) + 10;
  let h = '';
  for (let i = first; i < Math.min(shown.length, first + count); i++) h += rowHTML(shown[shown.length - 1 - i]);
  rowsEl.style.transform = 'translateY(' + first * ROWH + 'px)';
  rowsEl.innerHTML = h;
  $('empty').hidden = all.length > 0;
  $('count').textContent = (shown.length === all.length ? all.length : shown.length + ' of ' + all.length) +
    ' connections' + (paused && pending.length ? ' · ' + pending.length + ' waiting' : '');
  window.tlslens.renderMs = performance.now() - t0;
}

function flush() {
  scheduled = false;
  if (paused) { render(); return; }
  if (pending.length === 0) return;
  let added = 0;
  for (const r of pending) {
    all.push(r);
    if (match(query, r)) { shown.push(r); added++; }
  }
  pending = [];
  if (all.length > keep) {
    const drop = all.length - keep;
    const oldest = all[drop].seq;
    all = all.slice(drop);
    let n = 0;
    while (n < shown.length && shown[n].seq < oldest) n++;
    if (n) shown = shown.slice(n);
  }
  if (viewport.scrollTop > 0) viewport.scrollTop += added * ROWH; // keep the rows in view still
  render();
}

function schedule() {
  if (!scheduled) { scheduled = true; requestAnimationFrame(flush); }
}

function applyFilter() {
  const t0 = performance.now();
  query = parseQuery($('filter').value);
  shown = all.filter((r) => match(query, r));
  viewport.scrollTop = 0;
  render();
  window.tlslens.filterMs = performance.now() - t0;
  $('download').href = '/records.jsonl' + ($('filter').value.trim() ? '?q=' + encodeURIComponent($('filter').value.trim()) : '');
}

window.tlslens = { renderMs: 0, filterMs: 0, rows: () => all.length, shown: () => shown.length };

let debounce;
$('filter').addEventListener('input', () => { clearTimeout(debounce); debounce = setTimeout(applyFilter, 80); });
$('pause').addEventListener('click', () => {
  paused = !paused;
  $('pause').textContent = paused ? 'Resume' : 'Pause';
  $('pause').classList.toggle('on', paused);
  schedule();
});
$('clear').addEventListener('click', () => { all = []; shown = []; pending = paused ? [] : pending; render(); });
viewport.addEventListener('scroll', () => requestAnimationFrame(render), { passive: true });
window.addEventListener('resize', () => requestAnimationFrame(render));

function receive(r) {
  if (r.seq <= lastSeq) return; // a replay after a reconnect
  lastSeq = r.seq;
  pending.push(r);
}

// The ring's rows in one response, then the stream from the newest on.
async function start() {
  let after = 0;
  try {
    const resp = await fetch('/rows.json', { cache: 'no-store' });
    for (const r of await resp.json()) receive(r);
    after = lastSeq;
  } catch (e) { /* the stream replays the ring instead */ }
  schedule();
  const es = new EventSource('/events?after=' + after);
  es.onopen = () => { $('status').textContent = 'live'; };
  es.onerror = () => { $('status').textContent = 'reconnecting…'; };
  es.onmessage = (e) => { receive(JSON.parse(e.data)); schedule(); };
}
render();
start();
