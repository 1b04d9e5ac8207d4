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
      <span class="dot timeoutNow"></span>take over
    </div>
  </section>
  <section id="side">
    <h2>Logs <span class="hint">one box per entry, colour = term; white bar = commit; S = snapshot; red outline = conflicts with the leader</span></h2>
    <div id="logs"></div>
    <h2>Client</h2>
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
    <h2>Events</h2>
    <ol id="events"></ol>
  </section>
</main>
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
