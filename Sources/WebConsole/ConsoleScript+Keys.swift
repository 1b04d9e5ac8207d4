// The key list in the client panel: a range over the store (`GET /v1/kv?prefix=…&limit=…&after=…`),
// a page at a time, in the store's byte order, with each key's revisions and the revision the
// page was read at. Next continues after the page's last key; Back returns to where the page
// before began. A click on a key puts it and its value in the client form.
let consoleKeysScript = #"""
const KEYS_PER_PAGE = 8;
const keyList = {
  prefix: '',
  consistency: 'eventual',
  starts: [null],     // for each page shown so far, the key it continues after (null: the start)
  items: [],
  more: false,
  revision: null,     // the store revision the page was read at
  loaded: false,
  asked: 0,           // numbers the reads, so a slow answer cannot replace a newer one
};

function wireKeys() {
  $('keys-form').addEventListener('submit', (event) => {
    event.preventDefault();
    keyList.prefix = $('keys-prefix').value;
    keyList.consistency = $('keys-consistency').value;
    keyList.starts = [null];
    loadKeys();
  });
  $('keys-refresh').addEventListener('click', () => refreshKeys(true));
  $('keys-next').addEventListener('click', () => {
    if (!keyList.more || !keyList.items.length) return;
    keyList.starts.push(keyList.items[keyList.items.length - 1].key);
    loadKeys();
  });
  $('keys-back').addEventListener('click', () => {
    if (keyList.starts.length < 2) return;
    keyList.starts.pop();
    loadKeys();
  });
  $('keys-rows').addEventListener('click', (event) => {
    const row = event.target.closest('tr[data-index]');
    if (row) fillClientForm(keyList.items[Number(row.dataset.index)]);
  });
}

// Reads the current page again (after a write from the client form, or the Refresh button).
function refreshKeys(always = false) {
  if (always || keyList.loaded) loadKeys();
}

function rangeQuery() {
  const query = new URLSearchParams({ limit: String(KEYS_PER_PAGE) });
  if (keyList.prefix !== '') query.set('prefix', keyList.prefix);
  const after = keyList.starts[keyList.starts.length - 1];
  if (after !== null) query.set('after', after);
  if (keyList.consistency === 'linearizable') query.set('consistency', 'linearizable');
  return '/v1/kv?' + query;
}

async function loadKeys() {
  keyList.loaded = true;
  const ticket = ++keyList.asked;
  let answer;
  try {
    const response = await authorizedFetch(rangeQuery());
    answer = await response.json();
  } catch (error) {
    answer = { status: 'error', error: 'the server cannot be reached' };
  }
  if (ticket !== keyList.asked) return;
  if (answer.status !== 'ok') return drawKeysError(answer);
  keyList.items = answer.items;
  keyList.more = answer.more;
  keyList.revision = answer.revision;
  drawKeys();
}

function drawKeys() {
  $('keys-rows').replaceChildren(...keyList.items.map(keyRow));
  if (!keyList.items.length) $('keys-rows').append(emptyKeysRow());
  const page = keyList.starts.length;
  const first = (page - 1) * KEYS_PER_PAGE + 1;
  const shown = keyList.items.length ? `keys ${first}–${first + keyList.items.length - 1}` : 'no keys';
  $('keys-info').textContent = `page ${page} · ${shown} · read at rev ${keyList.revision}`;
  $('keys-info').className = '';
  $('keys-back').disabled = page < 2;
  $('keys-next').disabled = !keyList.more;
  noteStoreRevision((state && state.nodes) || []);
}

function keyRow(item, index) {
  const row = document.createElement('tr');
  row.dataset.index = String(index);
  row.dataset.key = item.key;
  row.title = `click: put ${item.key} in the client form`;
  for (const text of [item.key, item.value, item.createRevision, item.modRevision, item.version]) {
    const cell = document.createElement('td');
    cell.textContent = String(text);
    row.append(cell);
  }
  return row;
}

function emptyKeysRow() {
  const row = document.createElement('tr');
  const cell = document.createElement('td');
  cell.colSpan = 5;
  cell.className = 'empty';
  cell.textContent = keyList.prefix === '' ? 'the store holds no keys here' : `no keys starting with ${keyList.prefix} here`;
  row.append(cell);
  return row;
}

function drawKeysError(answer) {
  $('keys-info').textContent = `cannot list: ${answer.code || ''} ${answer.error || ''}`.trim();
  $('keys-info').className = 'error';
}

function fillClientForm(item) {
  $('client-key').value = item.key;
  $('client-value').value = item.value;
  showAnswer(`${item.key}: created at rev ${item.createRevision}, last written at rev ${item.modRevision}, version ${item.version}`, false);
}

// The page was read at one revision; when the leader's store has moved on, Refresh says so.
function noteStoreRevision(nodes) {
  const leader = nodes.find((node) => node.id === (state && state.leader));
  const behind = leader && keyList.revision !== null && leader.revision > keyList.revision;
  $('keys-refresh').classList.toggle('stale', Boolean(behind));
  $('keys-refresh').title = behind ? `The store is at rev ${leader.revision} now: read this page again` : 'Read this page again';
}
"""#
