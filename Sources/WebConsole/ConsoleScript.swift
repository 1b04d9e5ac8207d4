// The page's behaviour. It keeps no Raft logic: it draws the last `state` event, animates between
// events (timer arcs, messages in flight), and turns clicks into requests on /v1/request. Menus,
// buttons and the client form are in ConsoleScript+Controls; the log strips, the key list and the
// watch panel in +Logs, +Keys and +Watch. WebConsole serves them as one script that ends with start().
let consoleScript = #"""
'use strict';
const SVG = 'http://www.w3.org/2000/svg';
const $ = (id) => document.getElementById(id);
const TERM_COLORS = ['#4aa8ff', '#3ddc84', '#ffb347', '#ff6fa8', '#b48cff', '#4fd1c5', '#f6e05e', '#fc8181', '#90cdf4', '#9ae6b4'];
const SPEEDS = [1, 2, 5, 10, 20, 50, 100];
let state = null;
let stateAt = 0;
let source = null;
const flights = [];
let positions = {};
let layoutKey = '';

function el(name, attributes = {}, parent = null) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (parent) parent.appendChild(node);
  return node;
}

function termColor(term) { return TERM_COLORS[(term - 1 + TERM_COLORS.length * 100) % TERM_COLORS.length]; }

// ---------- connection ----------

function connect() {
  if (source) source.close();
  setConnection('connecting…', '');
  source = new EventSource(withToken('/v1/events'));
  source.addEventListener('state', (event) => {
    state = JSON.parse(event.data);
    stateAt = performance.now();
    setConnection('live', 'live');
    render();
    launch(state.messages || []);
    if (!keyList.loaded && state.leader !== null) loadKeys();
  });
  source.addEventListener('log', (event) => addEvents(JSON.parse(event.data)));
  source.onerror = () => {
    setConnection('reconnecting… (is the server running?)', 'lost');
    if (source.readyState === EventSource.CLOSED) {
      checkTokenAfterStreamError().then((ready) => setTimeout(connect, ready ? 0 : 2000));
    }
  };
}

function setConnection(text, kind) {
  const box = $('connection');
  box.textContent = text;
  box.className = 'connection ' + kind;
}

// A request on /v1/request: its answer, or null when the server cannot be reached.
async function post(request) {
  try {
    const response = await authorizedFetch('/v1/request', { method: 'POST', body: JSON.stringify(request) });
    return await response.json();
  } catch (error) {
    return null;
  }
}

// As post, and what went wrong is shown under the client form.
async function send(request) {
  const answer = await post(request);
  if (!answer) showAnswer('the server cannot be reached', true);
  else if (answer.status !== 'ok') showAnswer(JSON.stringify(answer), true);
  return answer;
}

// ---------- drawing ----------

function nodeRole(node) {
  if (!node.alive) return 'down';
  if (node.member === false) return 'removed';
  if (node.role === 'follower' && node.voter === false) return 'learner';
  return node.role;
}

function layout(nodes) {
  const key = nodes.map((n) => n.id).join(',');
  if (key === layoutKey) return;
  layoutKey = key;
  positions = {};
  const count = Math.max(nodes.length, 1);
  nodes.forEach((node, index) => {
    const angle = -Math.PI / 2 + (2 * Math.PI * index) / count;
    positions[node.id] = { x: 300 + 205 * Math.cos(angle), y: 290 + 205 * Math.sin(angle) };
  });
}

function canReach(a, b) {
  if (!state.partition) return true;
  return state.partition.some((group) => group.includes(a) && group.includes(b));
}

function render() {
  const nodes = state.nodes || [];
  layout(nodes);
  document.body.dataset.leader = state.leader === null ? '' : String(state.leader);
  document.body.dataset.paused = state.paused ? 'true' : 'false';
  const leader = nodes.find((n) => n.id === state.leader);
  $('leader').textContent = leader ? `leader: node ${leader.id}` : 'no leader';
  $('term').textContent = leader ? `term ${leader.term}` : '';
  $('pause').disabled = state.paused;
  $('resume').disabled = !state.paused;
  $('step').disabled = !state.paused || !(state.held && state.held.length);
  const speedIndex = Math.max(0, SPEEDS.indexOf(state.slowMotion || 1));
  $('slowmotion').value = String(speedIndex);
  $('slowmotion-value').textContent = `${state.slowMotion || 1}×`;
  const perSecond = Math.round((state.messagesSent || 0) * 1000 / (state.intervalMs || 100));
  $('rates').textContent = `${perSecond} Raft messages/s`;

  const links = $('links');
  links.replaceChildren();
  for (let i = 0; i < nodes.length; i++) {
    for (let j = i + 1; j < nodes.length; j++) {
      const a = positions[nodes[i].id];
      const b = positions[nodes[j].id];
      el('line', { x1: a.x, y1: a.y, x2: b.x, y2: b.y, class: canReach(nodes[i].id, nodes[j].id) ? 'link' : 'link cut' }, links);
    }
  }

  // Nodes are kept from one update to the next (a click must not land on a replaced element).
  const group = $('nodes');
  const present = new Set(nodes.map((n) => String(n.id)));
  for (const g of [...group.children]) if (!present.has(g.dataset.id)) g.remove();
  for (const node of nodes) drawNode(group, node);
  drawHeld();
  drawLogs(nodes);
  noteStoreRevision(nodes);
}

function drawNode(parent, node) {
  const p = positions[node.id];
  let g = parent.querySelector(`g.node[data-id="${node.id}"]`);
  if (!g) {
    g = el('g', { class: 'node', 'data-id': node.id }, parent);
    el('circle', { r: 56, class: 'ring-partitioned' }, g);
    el('circle', { r: 46, class: 'body' }, g);
    el('path', { class: 'arc', 'data-arc': node.id }, g);
    el('text', { y: 8, class: 'label' }, g).textContent = `N${node.id}`;
    el('text', { y: 68, class: 'facts first' }, g);
    el('text', { y: 84, class: 'facts second' }, g);
    el('text', { y: 100, class: 'facts third' }, g);
    el('text', { y: -56, class: 'badge' }, g);
    g.addEventListener('click', (event) => {
      const current = (state.nodes || []).find((n) => String(n.id) === g.dataset.id);
      if (current) openNodeMenu(current, event);
    });
  }
  const role = nodeRole(node);
  g.dataset.role = role;
  g.dataset.alive = String(node.alive);
  g.setAttribute('transform', `translate(${p.x},${p.y})`);
  g.querySelector('.ring-partitioned').style.display = node.partitioned ? '' : 'none';
  const first = g.querySelector('.facts.first');
  const second = g.querySelector('.facts.second');
  const third = g.querySelector('.facts.third');
  if (node.alive) {
    const vote = node.votedFor === null || node.votedFor === undefined ? '–' : node.votedFor;
    first.textContent = `${role} · term ${node.term} · vote ${vote}`;
    second.textContent = `commit ${node.commitIndex} · applied ${node.lastApplied} · log ${node.logLength}`;
    third.textContent = node.revision === undefined ? '' : storeFacts(node);
  } else {
    first.textContent = node.failure ? `down: ${node.failure.slice(0, 40)}` : 'down';
    second.textContent = '';
    third.textContent = '';
  }
  const badges = [];
  if (node.slowMs > 0) badges.push(`slow +${node.slowMs}ms`);
  if (node.disk) badges.push(`disk ${node.disk}`);
  if (node.transferringTo !== undefined) badges.push(`→ node ${node.transferringTo}`);
  if (state.paused && node.alive && !REPLAY) badges.push('paused');
  g.querySelector('.badge').textContent = badges.join(' · ');
}

// What the node's copy of the store holds: its revision, keys and leases.
function storeFacts(node) {
  const plural = (count, noun) => `${count} ${noun}${count === 1 ? '' : 's'}`;
  return `store rev ${node.revision} · ${plural(node.keys, 'key')} · ${plural(node.leases || 0, 'lease')}`;
}

// Held messages are kept by id, like nodes, so they can be clicked while updates arrive.
function drawHeld() {
  const layer = $('held-layer');
  const held = state.held || [];
  $('held-count').textContent = String(held.length);
  $('held-noun').textContent = held.length === 1 ? 'held message' : 'held messages';
  $('held-summary').className = state.paused || REPLAY ? '' : 'none';
  $('held-noun').textContent = REPLAY ? (held.length === 1 ? 'message in flight' : 'messages in flight') : $('held-noun').textContent;
  const present = new Set(held.map((m) => String(m.id)));
  for (const circle of [...layer.children]) if (!present.has(circle.dataset.heldId)) circle.remove();
  const perLink = {};
  for (const message of held) {
    const a = positions[message.from];
    const b = positions[message.to];
    if (!a || !b) continue;
    const key = `${message.from}-${message.to}`;
    const slot = (perLink[key] = (perLink[key] || 0) + 1);
    const t = Math.min(0.3 + slot * 0.07, 0.75);
    let circle = layer.querySelector(`circle[data-held-id="${message.id}"]`);
    if (!circle) {
      circle = el('circle', { r: 8, class: `held ${kindClass(message.type)}`, 'data-held-id': message.id }, layer);
      el('title', {}, circle).textContent = `#${message.id} ${message.summary}`;
      circle.addEventListener('click', (event) => openHeldMenu(message, event));
    }
    circle.setAttribute('cx', a.x + (b.x - a.x) * t);
    circle.setAttribute('cy', a.y + (b.y - a.y) * t);
  }
}

function kindClass(type) {
  return type === 'appendResponse' || type === 'voteResponse' || type === 'preVoteResponse' || type === 'snapshotResponse' || type === 'readIndexResponse' ? 'response' : type;
}

// ---------- animation ----------

function launch(messages) {
  if (state.paused) {  // held messages are drawn where they wait
    flights.length = 0;
    return;
  }
  const now = performance.now();
  const slow = state.slowMotion || 1;
  const spacing = (state.intervalMs || 100) / Math.max(messages.length, 1);
  messages.forEach((message, index) => {
    flights.push({ from: message.from, to: message.to, type: kindClass(message.type), entries: message.entries || 0,
                   start: now + index * spacing, duration: Math.min(350 * slow, 6000) });
  });
  if (flights.length > 400) flights.splice(0, flights.length - 400);
}

function animate(now) {
  if (state) {
    const layer = $('flights');
    layer.replaceChildren();
    for (let i = flights.length - 1; i >= 0; i--) {
      const flight = flights[i];
      const t = (now - flight.start) / flight.duration;
      if (t > 1) { flights.splice(i, 1); continue; }
      if (t < 0) continue;
      const a = positions[flight.from];
      const b = positions[flight.to];
      if (!a || !b) continue;
      el('circle', { cx: a.x + (b.x - a.x) * t, cy: a.y + (b.y - a.y) * t, r: flight.entries > 0 ? 7 : 4,
                     class: flight.type }, layer);
    }
    const tickMs = state.tickMs || 10;
    const elapsedTicks = state.paused || REPLAY ? 0 : (now - stateAt) / tickMs;
    for (const node of state.nodes || []) {
      const arc = document.querySelector(`path[data-arc="${node.id}"]`);
      if (!arc) continue;
      if (!node.alive || node.role === 'leader' || !node.electionTimeout) { arc.setAttribute('d', ''); continue; }
      const left = Math.max(0, 1 - (node.electionElapsed + elapsedTicks) / node.electionTimeout);
      arc.setAttribute('d', arcPath(52, left));
    }
  }
  requestAnimationFrame(animate);
}

function arcPath(radius, fraction) {
  if (fraction <= 0) return '';
  const angle = Math.min(fraction, 0.9999) * 2 * Math.PI;
  const x = radius * Math.sin(angle);
  const y = -radius * Math.cos(angle);
  return `M 0 ${-radius} A ${radius} ${radius} 0 ${angle > Math.PI ? 1 : 0} 1 ${x} ${y}`;
}
"""#
