// The log strips: one row per node, one box per entry of its log's tail.
//
// The feed's `state` events carry the tails, but the first ones a browser gets after connecting
// have none yet: the server asks its nodes for their tails on its 100 ms timer and sends what they
// answered from the next update on. So the page keeps the last tail it was given for each node
// (a state without one draws the one before), and for a node of this process it has none of, it
// asks for the log's last entries at once (`{"admin":"logs"}`) and draws those until the feed's
// tail arrives. (A member process's feed has tails of its own node only; asking once for another
// member's would draw a log that never moves, so the page does not.)
let consoleLogsScript = #"""
const LOG_TAIL = 48;
const knownLogs = {};
const askedForLogs = new Set();

// Each node's tail: the state's when it has one (null when the node is down), else the last known.
function currentLogs(nodes) {
  const fresh = state.logs || {};
  for (const node of nodes) {
    const id = String(node.id);
    if (id in fresh) knownLogs[id] = fresh[id];
  }
  return knownLogs;
}

function askForMissingLogs(nodes) {
  if (REPLAY) return;
  for (const node of nodes) {
    const id = String(node.id);
    if (!node.alive || node.local === false || id in knownLogs || askedForLogs.has(id)) continue;
    askedForLogs.add(id);
    fetchLogTail(node);
  }
}

async function fetchLogTail(node) {
  const answer = await post({ admin: 'logs', node: node.id, count: LOG_TAIL });
  const id = String(node.id);
  if (!answer || answer.status !== 'ok' || id in knownLogs) return;  // the feed's tail came first
  knownLogs[id] = tailOfEntries(answer.entries, node);
  drawLogs(state.nodes || []);
}

// The entries of `{"admin":"logs"}` in the feed's form: first index, terms, kinds (w/n/c).
function tailOfEntries(entries, node) {
  const kind = (command) => (command === null ? 'n' : command && command.op === 'config' ? 'c' : 'w');
  return {
    first: entries.length ? entries[0].index : node.logLength + 1,
    terms: entries.map((entry) => entry.term),
    kinds: entries.map((entry) => kind(entry.command)).join(''),
    snapshot: node.snapshotIndex || 0,
    commit: node.commitIndex,
  };
}

function drawLogs(nodes) {
  const logs = currentLogs(nodes);
  askForMissingLogs(nodes);
  const leaderLog = state.leader !== null ? logs[String(state.leader)] : null;
  $('logs').replaceChildren(...nodes.map((node) => logRow(node, logs[String(node.id)], leaderLog)));
}

function logRow(node, log, leaderLog) {
  const row = document.createElement('div');
  row.className = 'row';
  row.dataset.id = node.id;
  const name = document.createElement('span');
  name.className = 'name';
  name.textContent = `node ${node.id}`;
  const strip = document.createElement('div');
  strip.className = 'strip';
  row.append(name, strip);
  if (!log) {
    strip.textContent = node.alive ? '' : '(down)';
    return row;
  }
  if (log.snapshot > 0 && log.first === log.snapshot + 1) {
    const snap = document.createElement('span');
    snap.className = 'snap';
    snap.textContent = `S ≤ ${log.snapshot}`;
    strip.append(snap);
  }
  log.terms.forEach((term, offset) => strip.append(...entryBoxes(node, log, leaderLog, term, offset)));
  return row;
}

// The box of one entry, followed by the commit bar when it is the last committed one.
function entryBoxes(node, log, leaderLog, term, offset) {
  const index = log.first + offset;
  const cell = document.createElement('span');
  const kind = log.kinds[offset];
  cell.className = `box ${kind}` + (index > log.commit ? ' uncommitted' : '');
  if (log.terms.length <= 16) {  // a short log (a scenario, a fresh cluster): wide boxes with their index
    cell.classList.add('wide');
    cell.textContent = String(index);
  }
  if (leaderLog && node.id !== state.leader) {
    const at = index - leaderLog.first;
    if (at >= 0 && at < leaderLog.terms.length && leaderLog.terms[at] !== term) cell.classList.add('conflict');
  }
  cell.style.background = termColor(term);
  cell.title = `entry ${index}, term ${term}` + (kind === 'n' ? ' (no-op)' : kind === 'c' ? ' (configuration)' : '')
    + (log.commands && log.commands[offset] && kind === 'w' ? `: ${log.commands[offset]}` : '');
  if (index !== log.commit) return [cell];
  const mark = document.createElement('span');
  mark.className = 'commit';
  mark.title = `commit index ${log.commit}`;
  return [cell, mark];
}
"""#
