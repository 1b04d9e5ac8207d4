// The live page's Record button and Scenarios menu. Record saves every node's flight recorder
// (as {"admin":"trace"} does) and offers time travel at /replay; a scenario runs by hand on the
// real store, narrated in the Events tab, and ends with its check and its recording.
let consoleScenariosScript = #"""
function wireScenarios() {
  $('record').addEventListener('click', recordNow);
  $('scenarios-open').addEventListener('click', openScenarios);
}

function showInfo(title, text, link) {
  $('info-title').textContent = title;
  $('info-text').textContent = text;
  $('info-link').hidden = !link;
  if (link) $('info-link').href = link;
  if (!$('info-dialog').open) $('info-dialog').showModal();
}

async function recordNow() {
  $('record').disabled = true;
  try {
    const response = await fetch('/v1/replay/record', { method: 'POST' });
    const answer = await response.json();
    if (answer.status !== 'ok') return showInfo('Record', answer.error || 'the recording could not be saved', null);
    showInfo('Recorded', `Every node's flight recorder is saved:\n${answer.files.join('\n')}\n\nLook back at it here (Open time travel), or later with:\n${answer.command}`, answer.replay);
  } finally {
    $('record').disabled = false;
  }
}

async function openScenarios(event) {
  const answer = await send({ admin: 'scenario', name: 'list' });
  if (!answer || answer.status !== 'ok') return;
  const menu = $('menu');
  menu.replaceChildren();
  const heading = document.createElement('h3');
  heading.textContent = 'Guided scenarios (the cluster is paused and driven by hand)';
  menu.append(heading);
  for (const scenario of answer.scenarios) {
    const button = document.createElement('button');
    button.textContent = `${scenario.name}: ${scenario.title}`;
    button.title = `needs ${scenario.needs}`;
    button.dataset.scenario = scenario.name;
    button.addEventListener('click', () => { menu.hidden = true; runScenario(scenario.name); });
    menu.append(button);
  }
  menu.style.left = Math.min(event.clientX, window.innerWidth - 520) + 'px';
  menu.style.top = (event.clientY + 10) + 'px';
  menu.hidden = false;
  event.stopPropagation();
}

async function runScenario(name) {
  showTab('events');
  showAnswer(`scenario ${name} is running…`, false);
  $('scenarios-open').disabled = true;
  document.body.dataset.scenario = 'running';
  const answer = await post({ admin: 'scenario', name });
  $('scenarios-open').disabled = false;
  document.body.dataset.scenario = answer && answer.status === 'ok' ? 'passed' : 'failed';
  if (!answer) return showInfo(`Scenario ${name}`, 'the server cannot be reached', null);
  if (answer.status === 'ok') {
    showAnswer(`scenario ${name}: ${answer.check}`, false);
    showInfo(`Scenario ${name}: the check holds`, `${answer.check}\n\nThe cluster stays paused (Resume continues). Its recording opens in time travel.`, answer.replay);
  } else {
    showAnswer(`scenario ${name}: ${answer.error}`, true);
    showInfo(`Scenario ${name} failed`, answer.error, '/replay');
  }
}
"""#
