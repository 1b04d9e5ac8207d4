// What the page's clicks do: the node and held-message menus, the header's buttons, the client
// form, the tabs under the logs and the event feed; start() wires it all and connects.
let consoleControlsScript = #"""
function openMenu(title, items, event) {
  const menu = $('menu');
  menu.replaceChildren();
  const heading = document.createElement('h3');
  heading.textContent = title;
  menu.append(heading);
  for (const [label, action, request] of items) {
    const button = document.createElement('button');
    button.textContent = label;
    button.dataset.action = action;
    button.addEventListener('click', async () => {
      menu.hidden = true;
      const answer = await send(request);
      if (answer && answer.status === 'ok') showAnswer(`${label}: ok`, false);
    });
    menu.append(button);
  }
  menu.style.left = Math.min(event.clientX, window.innerWidth - 220) + 'px';
  menu.style.top = Math.min(event.clientY, window.innerHeight - 40 * (items.length + 1)) + 'px';
  menu.hidden = false;
  event.stopPropagation();
}

function openNodeMenu(node, event) {
  if (REPLAY) return;
  const id = node.id;
  const items = [];
  if (node.alive) items.push(['Kill', 'kill', { admin: 'kill', node: id }]);
  else items.push(['Restart', 'restart', { admin: 'restart', node: id }]);
  items.push(['Isolate', 'isolate', { admin: 'isolate', node: id }]);
  items.push(node.slowMs > 0 ? ['Speed up (no delay)', 'fast', { admin: 'slow', node: id, ms: 0 }]
                             : ['Slow: +200 ms per message', 'slow', { admin: 'slow', node: id, ms: 200 }]);
  if (node.alive && node.role !== 'leader' && node.voter !== false) items.push(['Make it the leader', 'transfer', { admin: 'transfer', node: id }]);
  if (state.paused) {
    items.push(['Tick once', 'tick', { admin: 'tick', node: id, count: 1 }]);
    items.push(['Tick 10 times', 'tick10', { admin: 'tick', node: id, count: 10 }]);
  }
  items.push(node.disk ? ['Disk back to normal', 'disk-ok', { admin: 'disk', node: id, fault: 'none' }]
                       : ['Disk: every fsync +200 ms', 'disk-slow', { admin: 'disk', node: id, fault: 'slow', ms: 200 }]);
  if (!node.disk) items.push(['Disk: full', 'disk-full', { admin: 'disk', node: id, fault: 'full' }]);
  openMenu(`node ${id} (${nodeRole(node)})`, items, event);
}

function openHeldMenu(message, event) {
  if (REPLAY) return openFlightInfo(message, event);
  openMenu(`message #${message.id}: ${message.type} ${message.from}→${message.to}`, [
    ['Deliver', 'deliver', { admin: 'deliver', message: message.id }],
    ['Drop', 'drop', { admin: 'drop', message: message.id }],
  ], event);
}

function showAnswer(text, isError) {
  const box = $('client-answer');
  box.textContent = text;
  box.className = isError ? 'error' : '';
}

// The event feed, newest on top. While another tab is shown, its tab counts what came since
// (not the recent lines a new connection starts with).
let unseenEvents = null;

function addEvents(lines) {
  const list = $('events');
  for (const line of lines) {
    const item = document.createElement('li');
    item.className = line.level;
    item.textContent = `${line.time} ${line.node === undefined ? 'cluster' : 'node ' + line.node}  ${line.text}`;
    list.prepend(item);
  }
  while (list.children.length > 300) list.lastChild.remove();
  if (unseenEvents === null) unseenEvents = 0;
  else if ($('tab-events').hidden) unseenEvents += lines.length;
  $('events-badge').textContent = unseenEvents ? String(unseenEvents) : '';
}

function wireControls() {
  document.addEventListener('click', (event) => { if (!$('menu').contains(event.target)) $('menu').hidden = true; });
  $('pause').addEventListener('click', () => send({ admin: 'pause' }));
  $('resume').addEventListener('click', () => send({ admin: 'resume' }));
  $('step').addEventListener('click', () => send({ admin: 'deliver' }));
  $('heal').addEventListener('click', () => send({ admin: 'heal' }));
  $('slowmotion').addEventListener('change', (event) => send({ admin: 'slowmotion', factor: SPEEDS[Number(event.target.value)] }));
  $('partition-open').addEventListener('click', () => {
    const box = $('partition-nodes');
    box.replaceChildren();
    for (const node of (state && state.nodes) || []) {
      const label = document.createElement('label');
      label.innerHTML = `node ${node.id} <select data-id="${node.id}"><option>A</option><option>B</option></select>`;
      box.append(label);
    }
    $('partition-dialog').showModal();
  });
  $('partition-dialog').addEventListener('close', () => {
    if ($('partition-dialog').returnValue !== 'apply') return;
    const groups = { A: [], B: [] };
    for (const select of $('partition-nodes').querySelectorAll('select')) groups[select.value].push(Number(select.dataset.id));
    send({ admin: 'partition', groups: [groups.A, groups.B].filter((g) => g.length) });
  });
}

// The client form: one request per button; a write that succeeds refreshes the key list.
function wireClient() {
  for (const button of $('client').querySelectorAll('button[data-op]')) {
    button.addEventListener('click', () => runClientOp(button.dataset.op));
  }
}

async function runClientOp(op) {
  const key = $('client-key').value;
  if (!key) return showAnswer('type a key first', true);
  const value = $('client-value').value;
  const expect = $('client-expect').value;
  const request = {
    put: { op: 'put', key, value },
    get: { op: 'get', key },
    getlin: { op: 'get', key, consistency: 'linearizable' },
    delete: { op: 'delete', key },
    cas: { op: 'cas', key, expect: expect === '' || expect === 'null' ? null : expect, value },
  }[op];
  try {
    const response = await authorizedFetch('/v1/request', { method: 'POST', body: JSON.stringify(request) });
    const text = await response.text();
    showAnswer(`${response.status} ${text.trim()}`, !response.ok);
    if (response.ok && op !== 'get' && op !== 'getlin') refreshKeys();
  } catch (error) {
    showAnswer('the server cannot be reached: ' + error, true);
  }
}

// Client & keys, Watch, Events: one panel shown at a time under the logs.
function wireTabs() {
  for (const tab of $('tabs').querySelectorAll('[data-tab]')) {
    tab.addEventListener('click', () => showTab(tab.dataset.tab));
  }
}

function showTab(name) {
  for (const tab of $('tabs').querySelectorAll('[data-tab]')) {
    const chosen = tab.dataset.tab === name;
    tab.setAttribute('aria-selected', String(chosen));
    $('tab-' + tab.dataset.tab).hidden = !chosen;
  }
  if (name === 'events') {
    unseenEvents = 0;
    $('events-badge').textContent = '';
  }
}

function start() {
  if (REPLAY) {
    wireTabs();
    startReplay();
    requestAnimationFrame(animate);
    return;
  }
  wireScenarios();
  wireControls();
  wireClient();
  wireTabs();
  wireKeys();
  wireWatch();
  connect();
  requestAnimationFrame(animate);
}
"""#
