// The page's structure. Everything on it is drawn by console.js from the server's events.
let consoleHTML = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>RaftKV — live</title>
<link rel="stylesheet" href="/console.css">
</head>
<body>
<header>
  <h1>RaftKV <span class="sub">live</span></h1>
  <div id="summary"><span id="leader">no leader yet</span> <span id="term"></span></div>
  <div class="controls">
    <button id="pause" title="Stop every timer and hold every Raft message">Pause</button>
    <button id="resume" title="Deliver what is held and restart the timers">Resume</button>
    <button id="step" title="Deliver the oldest held message">Step</button>
    <button id="partition-open" title="Cut the network into groups">Partition…</button>
    <button id="heal" title="Remove partitions, delays and disk faults">Heal</button>
    <button id="scenarios-open" title="Guided scenarios: reproduce a situation by hand, narrated in the Events tab">Scenarios…</button>
    <button id="record" title="Save every node's flight recorder, then look back at it in time travel">Record</button>
    <label class="slider" title="Slow motion: every timer and deadline this many times longer">
      speed <input id="slowmotion" type="range" min="0" max="6" step="1" value="0"> <span id="slowmotion-value">1×</span>
    </label>
  </div>
  <div id="connection" class="connection">connecting…</div>
</header>
<main>
  <section id="stage">
    <svg id="ring" viewBox="0 0 600 600" role="img" aria-label="the nodes of the cluster and the messages between them">
      <g id="links"></g>
      <g id="flights"></g>
      <g id="nodes"></g>
      <g id="held-layer"></g>
    </svg>
    <div id="held-summary"><span id="held-count">0</span> <span id="held-noun">held messages</span> <span class="hint">(click one to deliver or drop it)</span></div>
    <div id="rates"></div>
    <div id="legend">
      <span class="dot appendEntries"></span>append <span class="dot heartbeat"></span>heartbeat
      <span class="dot requestVote"></span>vote <span class="dot preVote"></span>pre-vote
      <span class="dot response"></span>answer <span class="dot installSnapshot"></span>snapshot
      <span class="dot timeoutNow"></span>take over <span class="dot readIndex"></span>read index
    </div>
  </section>
  <section id="side">
    <h2>Logs <span class="hint">box = entry, colour = term · white bar = commit · S = snapshot · red = conflict</span></h2>
    <div id="logs"></div>
    <nav id="tabs" role="tablist">
      <button type="button" role="tab" data-tab="step" aria-selected="false" hidden>Step</button>
      <button type="button" role="tab" data-tab="client" aria-selected="true">Client &amp; keys</button>
      <button type="button" role="tab" data-tab="watch" aria-selected="false">Watch <span id="watch-badge"></span></button>
      <button type="button" role="tab" data-tab="events" aria-selected="false">Events <span id="events-badge"></span></button>
    </nav>
    <div id="tab-step" class="tab" role="tabpanel" hidden></div>
    <div id="tab-client" class="tab" role="tabpanel">
      <form id="client" autocomplete="off">
        <input id="client-key" placeholder="key" required>
        <input id="client-value" placeholder="value">
        <input id="client-expect" placeholder="expect (cas)">
        <div class="buttons">
          <button type="button" data-op="put">put</button>
          <button type="button" data-op="get">get</button>
          <button type="button" data-op="getlin">get (linearizable)</button>
          <button type="button" data-op="delete">delete</button>
          <button type="button" data-op="cas">cas</button>
        </div>
        <pre id="client-answer"></pre>
      </form>
      <form id="keys-form" autocomplete="off">
        <input id="keys-prefix" placeholder="key prefix (empty: all keys)">
        <select id="keys-consistency" title="eventual: any node answers; linearizable: confirmed by the leader's quorum">
          <option value="eventual">eventual</option>
          <option value="linearizable">linearizable</option>
        </select>
        <button type="submit" id="keys-list" title="The keys with this prefix in byte order, a page at a time (a range read)">List</button>
        <button type="button" id="keys-refresh" title="Read this page again">Refresh</button>
      </form>
      <table id="keys-table">
        <thead><tr><th>key</th><th>value</th><th title="createRevision: the store revision that created the key">create</th><th title="modRevision: the store revision of its last write">mod</th><th title="version: writes since it was created">ver</th></tr></thead>
        <tbody id="keys-rows"></tbody>
      </table>
      <div id="keys-pager">
        <button type="button" id="keys-back">◀ Back</button>
        <span id="keys-info"></span>
        <button type="button" id="keys-next">Next ▶</button>
      </div>
    </div>
    <div id="tab-watch" class="tab" role="tabpanel" hidden>
      <form id="watch-form" autocomplete="off">
        <select id="watch-kind">
          <option value="prefix">prefix</option>
          <option value="key">key</option>
        </select>
        <input id="watch-target" placeholder="prefix (empty: every key)">
        <input id="watch-from" placeholder="from rev" inputmode="numeric" title="Start at this revision (empty: from now)">
        <button type="submit" id="watch-start" title="Follow the changes to the key or prefix as they commit">Watch</button>
        <button type="button" id="watch-stop" disabled>Stop</button>
      </form>
      <div id="watch-status">not watching</div>
      <ol id="watch-events"></ol>
    </div>
    <div id="tab-events" class="tab" role="tabpanel" hidden>
      <ol id="events"></ol>
    </div>
  </section>
</main>
<section id="timeline" hidden>
  <div class="tl-row">
    <button id="tl-first" title="The first step (Home)">|◀</button>
    <button id="tl-prev-event" title="The previous event (Shift+←)">◀◀</button>
    <button id="tl-prev" title="One step back (←)">◀</button>
    <div id="tl-track">
      <svg id="tl-marks" viewBox="0 0 1000 24" preserveAspectRatio="none" aria-label="the run's events"></svg>
      <input id="tl-slider" type="range" min="0" max="0" value="0" step="1" aria-label="step">
    </div>
    <button id="tl-next" title="One step on (→)">▶</button>
    <button id="tl-next-event" title="The next event (Shift+→)">▶▶</button>
    <button id="tl-last" title="The last step (End)">▶|</button>
    <span id="tl-where">step 0</span>
  </div>
  <div id="tl-summary"></div>
</section>
<dialog id="info-dialog">
  <form method="dialog">
    <h2 id="info-title"></h2>
    <p id="info-text"></p>
    <div class="buttons"><a id="info-link" href="/replay" target="_blank" rel="noopener">Open time travel ↗</a> <button value="close">Close</button></div>
  </form>
</dialog>
<div id="menu" class="menu" hidden></div>
<dialog id="partition-dialog">
  <form method="dialog">
    <h2>Partition</h2>
    <p>Put each node in group A or B; nodes talk only inside their group.</p>
    <div id="partition-nodes"></div>
    <div class="buttons"><button value="apply" id="partition-apply">Apply</button> <button value="cancel">Cancel</button></div>
  </form>
</dialog>
<script src="/console.js"></script>
</body>
</html>
"""#
