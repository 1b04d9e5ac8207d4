// The watch panel: the changes to a key or a prefix as they commit, through the browser's own
// EventSource on `GET /v1/watch`. Every revision's last event carries `id:` = the revision, so
// when the connection drops (the server restarts) the browser reconnects by itself and sends
// `Last-Event-ID`, and the server resumes after the last revision the page saw whole. The panel
// shows the drop and the resumption; events it already shows are not shown twice.
let consoleWatchScript = #"""
const WATCH_ROWS = 400;
let watch = null;

function wireWatch() {
  $('watch-form').addEventListener('submit', (event) => {
    event.preventDefault();
    startWatch();
  });
  $('watch-stop').addEventListener('click', stopWatch);
  $('watch-kind').addEventListener('change', () => {
    $('watch-target').placeholder = $('watch-kind').value === 'key' ? 'key' : 'prefix (empty: every key)';
  });
}

function startWatch() {
  const kind = $('watch-kind').value;
  const target = $('watch-target').value;
  const from = $('watch-from').value.trim();
  if (kind === 'key' && target === '') return watchStatus('type the key to watch', 'error');
  if (from !== '' && !/^[0-9]+$/.test(from)) return watchStatus('from rev must be a revision number', 'error');
  if (watch) watch.source.close();
  const query = new URLSearchParams({ [kind]: target });
  if (from !== '') query.set('fromRevision', from);
  const url = '/v1/watch?' + query;
  const what = kind === 'key' ? `key ${target}` : target === '' ? 'every key' : `prefix ${target}`;
  watch = { source: new EventSource(withToken(url)), url, what, count: 0, done: null, lost: false };
  const current = watch;
  const listen = (type, handler) => current.source.addEventListener(type, (event) => { if (watch === current) handler(event); });
  listen('open', watchOpened);
  listen('put', watchEvent);
  listen('delete', watchEvent);
  listen('error', watchTrouble);
  $('watch-events').replaceChildren();
  watchMarker(`watching ${what}` + (from !== '' ? ` from rev ${from}` : ' from now'));
  watchStatus(`connecting to watch ${what}…`, '');
  watchButtons(true);
}

function stopWatch() {
  if (!watch) return;
  watch.source.close();
  watchMarker('stopped');
  watchStatus(`stopped · ${watchCount()}`, '');
  watch = null;
  watchButtons(false);
}

function watchButtons(running) {
  $('watch-stop').disabled = !running;
  $('watch-badge').textContent = running ? '●' : '';
}

function watchOpened() {
  if (watch.lost) watchMarker(`reconnected · ${resumesWhere()}`);
  watch.lost = false;
  watchStatus(`watching ${watch.what} · ${watchCount()}`, 'live');
}

// One change. After a resumption the server may send again what the page has (a `fromRevision`
// in the URL outranks Last-Event-ID): a revision at or below the last one seen whole is skipped.
function watchEvent(event) {
  const change = JSON.parse(event.data);
  if (watch.done !== null && change.modRevision <= watch.done) return;
  if (event.lastEventId !== '') watch.done = Number(event.lastEventId);
  watch.count += 1;
  watchRow(change);
  watchStatus(`watching ${watch.what} · ${watchCount()}`, 'live');
  $('watch-badge').textContent = `● ${watch.count}`;
}

// Where a reconnected watch goes on: after the last revision seen whole (the browser sends it as
// Last-Event-ID), or from the server's present when none was seen yet.
function resumesWhere() {
  return watch.done === null ? 'resuming from now (no revision seen yet)' : `resuming after rev ${watch.done}`;
}

function watchCount() {
  const last = watch.done === null ? '' : ` · last rev ${watch.done}`;
  return `${watch.count} event${watch.count === 1 ? '' : 's'}${last}`;
}

// The connection dropped (the browser reconnects by itself), the server ended the watch with an
// `error` event, or it refused it (the browser gives up: the page asks why, the way the browser
// asked, so a resumption refused as compacted says so).
function watchTrouble(event) {
  if (event.data) {
    const problem = JSON.parse(event.data);
    watchMarker(`the server ended the watch: ${problem.code}` + (problem.oldestRevision ? ` (oldest rev kept: ${problem.oldestRevision})` : ''));
    return;
  }
  if (watch.source.readyState === EventSource.CLOSED) return watchRefused(watch);
  if (!watch.lost) watchMarker('connection lost · reconnecting…');
  watch.lost = true;
  watchStatus(`reconnecting… (then ${resumesWhere()}) · ${watchCount()}`, 'lost');
}

async function watchRefused(refused) {
  watchButtons(false);
  watchStatus('the watch was refused…', 'lost');
  let reason = 'the server cannot be reached';
  const abort = new AbortController();
  setTimeout(() => abort.abort(), 5000);
  try {
    const headers = refused.done === null ? {} : { 'Last-Event-ID': String(refused.done) };
    const response = await authorizedFetch(refused.url, { signal: abort.signal, headers });
    reason = response.ok ? 'the connection closed' : ((await response.json()).error || response.statusText);
  } catch (error) { /* unreachable: the reason stays */ }
  abort.abort();
  if (watch !== refused) return;
  watchMarker('ended: ' + reason);
  watchStatus(`ended · ${watchCount()} · ${reason}`, 'lost');
  watch = null;
}

function watchRow(change) {
  const item = document.createElement('li');
  item.className = change.type;
  const value = change.type === 'put' ? ` = ${change.value}` : '';
  item.append(span('rev', `rev ${change.modRevision}`), span('type', change.type), span('change', change.key + value));
  item.title = change.type === 'put' ? `created at rev ${change.createRevision}, version ${change.version}` : 'deleted';
  addWatchItem(item);
}

function watchMarker(text) {
  const item = document.createElement('li');
  item.className = 'marker';
  item.textContent = `— ${text} —`;
  addWatchItem(item);
}

// Newest on top, like the event feed.
function addWatchItem(item) {
  const list = $('watch-events');
  list.prepend(item);
  while (list.children.length > WATCH_ROWS) list.lastChild.remove();
}

function watchStatus(text, kind) {
  $('watch-status').textContent = text;
  $('watch-status').className = kind;
}

function span(className, text) {
  const element = document.createElement('span');
  element.className = className;
  element.textContent = text;
  return element;
}
"""#
