// Time travel: the page in replay mode (body data-mode="replay"). A timeline of the recorded run
// with its events marked; dragging it or stepping (← → a step, Shift+← → an event, Home, End)
// asks /v1/replay/state for the cluster after that step — a status-shaped state that render()
// draws exactly as it draws the live cluster: the ring, the logs, the messages in flight (as
// held messages), the event feed up to that step, and the step's detail.
let consoleTimeTravelScript = #"""
const REPLAY = document.body.dataset.mode === 'replay';
const travel = { steps: 0, events: [], step: 0, shown: -1, busy: false, pending: null, origin: '' };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function startReplay() {
  document.querySelector('h1 .sub').textContent = 'time travel';
  $('timeline').hidden = false;
  document.querySelector('#held-summary .hint').textContent = '(click one for details)';
  document.querySelector('[data-tab="step"]').hidden = false;
  showTab('step');
  wireTimeline();
  let info;
  try {
    info = await loadTimeline();
  } catch (error) {
    setConnection(String(error.message || error), 'lost');
    return;
  }
  travel.steps = info.steps;
  travel.events = info.events || [];
  travel.origin = info.source || '';
  $('tl-slider').max = String(info.steps);
  drawMarks();
  setConnection(info.problem ? `replay stopped: ${info.problem}` : `replay of ${info.source}`, info.problem ? 'lost' : 'live');
  const fromHash = /step=(\d+)/.exec(location.hash);
  goTo(fromHash ? Number(fromHash[1]) : (info.start !== undefined ? info.start : info.steps));
}

// The timeline, once the server has indexed the recording. On a live server with none loaded
// yet, the rings are saved first (as the Record button does).
async function loadTimeline() {
  let recorded = false;
  for (let attempt = 0; attempt < 3000; attempt++) {
    const response = await fetch('/v1/replay');
    const answer = await response.json();
    if (answer.status === 'ok' && answer.steps !== undefined) return answer;
    if (answer.status === 'ok' && answer.loading !== undefined) {
      setConnection(`indexing the recording… ${answer.indexed} steps`, '');
      await sleep(250);
      continue;
    }
    if (response.status === 404 && !recorded) {
      recorded = true;
      setConnection('saving the flight recorders…', '');
      const saved = await fetch('/v1/replay/record', { method: 'POST' });
      if (saved.ok) continue;
      throw new Error((await saved.json()).error || 'the recording could not be saved');
    }
    throw new Error(answer.error || 'no recording');
  }
  throw new Error('the recording took too long to index');
}

function wireTimeline() {
  $('tl-slider').addEventListener('input', (event) => goTo(Number(event.target.value)));
  $('tl-first').addEventListener('click', () => goTo(0));
  $('tl-last').addEventListener('click', () => goTo(travel.steps));
  $('tl-prev').addEventListener('click', () => goTo(travel.step - 1));
  $('tl-next').addEventListener('click', () => goTo(travel.step + 1));
  $('tl-prev-event').addEventListener('click', () => goToEvent(-1));
  $('tl-next-event').addEventListener('click', () => goToEvent(1));
  document.addEventListener('keydown', (event) => {
    if (event.target.tagName === 'INPUT' && event.target.id !== 'tl-slider') return;
    const keys = { ArrowLeft: -1, ArrowRight: 1 };
    if (event.key in keys) {
      event.preventDefault();
      if (event.shiftKey) goToEvent(keys[event.key]); else goTo(travel.step + keys[event.key]);
    } else if (event.key === 'PageUp' || event.key === 'PageDown') {
      event.preventDefault();
      goToEvent(event.key === 'PageUp' ? -1 : 1);
    } else if (event.key === 'Home' || event.key === 'End') {
      event.preventDefault();
      goTo(event.key === 'Home' ? 0 : travel.steps);
    }
  });
}

// The next (or previous) step that has an event, from the current one.
function goToEvent(direction) {
  const steps = travel.events.map((e) => e.step);
  const target = direction > 0 ? steps.find((s) => s > travel.step) : [...steps].reverse().find((s) => s < travel.step);
  if (target !== undefined) goTo(target);
}

function goTo(step) {
  step = Math.max(0, Math.min(travel.steps, Math.round(step)));
  travel.step = step;
  $('tl-slider').value = String(step);
  history.replaceState(null, '', `#step=${step}`);
  fetchStep(step);
}

// One request at a time; while one is out, only the latest wanted step waits.
async function fetchStep(step) {
  if (travel.busy) {
    travel.pending = step;
    return;
  }
  travel.busy = true;
  try {
    const response = await fetch(`/v1/replay/state?step=${step}`);
    const answer = await response.json();
    if (answer.status === 'ok') showStep(answer);
  } catch (error) {
    setConnection('the server cannot be reached', 'lost');
  }
  travel.busy = false;
  if (travel.pending !== null) {
    const next = travel.pending;
    travel.pending = null;
    if (next !== travel.shown) fetchStep(next);
  }
}

function showStep(answer) {
  answer.held = answer.inFlight || [];
  answer.paused = false;
  answer.tickMs = 10;
  state = answer;
  stateAt = performance.now();
  travel.shown = answer.step;
  document.body.dataset.step = String(answer.step);
  render();
  $('rates').textContent = `t+${answer.time.toFixed(3)} s`;
  $('tl-where').textContent = `step ${answer.step} of ${answer.steps} · t+${answer.time.toFixed(3)} s`;
  drawDetail(answer.detail, answer.step);
  drawReplayEvents(answer.step);
}

function drawMarks() {
  const svg = $('tl-marks');
  svg.replaceChildren();
  const span = Math.max(1, travel.steps);
  for (const event of travel.events) {
    const x = (event.step / span) * 1000;
    const tall = ['leader', 'stop', 'restart', 'partition', 'problem', 'membership'].includes(event.kind);
    const line = el('line', { x1: x, x2: x, y1: tall ? 0 : 8, y2: 24, class: event.kind }, svg);
    el('title', {}, line).textContent = `step ${event.step}: ${event.text}`;
    line.addEventListener('click', () => goTo(event.step));
  }
}

// The event feed as it stood after `step`, newest on top.
function drawReplayEvents(step) {
  const list = $('events');
  const shown = travel.events.filter((event) => event.step <= step).slice(-300).reverse();
  list.replaceChildren(...shown.map((event) => {
    const item = document.createElement('li');
    item.className = `kind-${event.kind}` + (event.step === step ? ' current' : '');
    const who = event.node === undefined ? 'cluster' : `node ${event.node}`;
    item.textContent = `#${event.step} t+${event.time.toFixed(3)} ${who}  ${event.text}`;
    item.addEventListener('click', () => goTo(event.step));
    return item;
  }));
  const last = shown[0];
  $('tl-summary').textContent = last ? `last event (step ${last.step}): ${last.text}` : 'no event yet';
}

// What the step was: the input its node took, what the core emitted, how the node changed.
function drawDetail(detail, step) {
  const box = $('tab-step');
  box.replaceChildren();
  const heading = document.createElement('h3');
  if (!detail) {
    heading.textContent = step === 0 ? 'step 0: before the first recorded input' : `step ${step}`;
    box.append(heading);
    return;
  }
  heading.textContent = `step ${detail.step} · node ${detail.node} · t+${detail.time.toFixed(3)} s`;
  const input = document.createElement('div');
  input.className = 'input';
  input.textContent = detail.input;
  box.append(heading, input);
  const section = (title, lines) => {
    if (!lines.length) return;
    const h = document.createElement('h3');
    h.textContent = title;
    const list = document.createElement('ul');
    for (const line of lines) {
      const item = document.createElement('li');
      item.textContent = line;
      list.append(item);
    }
    box.append(h, list);
  };
  section('received', detail.received.map((m) => `#${m.id} ${m.summary}`));
  section('the core emitted', detail.sent.map((m) => `#${m.id} ${m.summary}`));
  section('changes', detail.changes);
  section('calls into the core (recorded, replayed, checked)', detail.records.slice(1));
}

function openFlightInfo(message, event) {
  const menu = $('menu');
  menu.replaceChildren();
  const heading = document.createElement('h3');
  heading.textContent = `message #${message.id}: ${message.type} ${message.from}→${message.to}`;
  const text = document.createElement('div');
  text.textContent = `${message.summary} · sent at step ${message.sentStep}` +
    (message.receivedStep !== undefined ? `, received at step ${message.receivedStep}` : message.lostStep !== undefined ? ', never received' : ', not received in this recording');
  menu.append(heading, text);
  if (message.receivedStep !== undefined) {
    const button = document.createElement('button');
    button.textContent = `Go to step ${message.receivedStep} (received)`;
    button.addEventListener('click', () => { menu.hidden = true; goTo(message.receivedStep); });
    menu.append(button);
  }
  menu.style.left = Math.min(event.clientX, window.innerWidth - 260) + 'px';
  menu.style.top = Math.min(event.clientY, window.innerHeight - 120) + 'px';
  menu.hidden = false;
  event.stopPropagation();
  document.addEventListener('click', () => { menu.hidden = true; }, { once: true });
}
"""#
