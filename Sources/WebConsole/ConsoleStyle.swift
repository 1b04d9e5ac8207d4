// The page's look: dark, large type, readable on a projector at 1280×720.
let consoleStyle = #"""
:root {
  --bg: #10141b; --panel: #171d27; --line: #2a3342; --text: #e7ecf3; --muted: #8d99ab;
  --leader: #3ddc84; --follower: #4aa8ff; --candidate: #ffb347; --learner: #b48cff; --down: #59606b; --alien: #394150;
  --danger: #ff5c6c;
}
* { box-sizing: border-box; }
html, body { margin: 0; height: 100%; background: var(--bg); color: var(--text);
  font: 15px/1.35 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { display: flex; align-items: center; gap: 18px; padding: 8px 14px; background: var(--panel); border-bottom: 1px solid var(--line); }
h1 { font-size: 20px; margin: 0; white-space: nowrap; }
h1 .sub { color: var(--leader); font-weight: 400; }
h2 { font-size: 14px; margin: 10px 0 6px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
.hint { color: var(--muted); font-size: 12px; text-transform: none; letter-spacing: 0; font-weight: 400; }
#summary { font-size: 17px; min-width: 190px; }
.controls { display: flex; gap: 6px; align-items: center; flex-wrap: wrap; }
button { background: #243044; color: var(--text); border: 1px solid #35445c; border-radius: 6px; padding: 5px 10px; font: inherit; cursor: pointer; }
button:hover { background: #2e3d56; }
button:disabled { opacity: .4; cursor: default; }
.slider { color: var(--muted); display: flex; align-items: center; gap: 6px; }
.connection { margin-left: auto; font-size: 13px; color: var(--muted); }
.connection.live { color: var(--leader); }
.connection.lost { color: var(--danger); }
body { display: flex; flex-direction: column; height: 100vh; overflow: hidden; }
main { flex: 1; min-height: 0; display: grid; grid-template-columns: minmax(480px, 1fr) minmax(420px, 540px);
  grid-template-rows: minmax(0, 1fr); gap: 10px; padding: 8px 12px; }
#stage { position: relative; min-height: 0; background: var(--panel); border-radius: 10px; border: 1px solid var(--line); }
#ring { position: absolute; top: 26px; left: 0; width: 100%; height: calc(100% - 52px); }
#side { min-height: 0; min-width: 0; display: flex; flex-direction: column; overflow: hidden; }
#side > h2:first-child { margin-top: 2px; }
#held-summary { position: absolute; top: 8px; left: 12px; color: var(--candidate); font-weight: 600; }
#held-summary.none { display: none; }
#rates { position: absolute; top: 8px; right: 12px; color: var(--muted); font-size: 13px; }
#legend { position: absolute; bottom: 6px; left: 12px; right: 12px; color: var(--muted); font-size: 12px; }
.dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin: 0 3px 0 10px; vertical-align: middle; }
.dot.appendEntries, circle.appendEntries { background: #4aa8ff; fill: #4aa8ff; }
.dot.heartbeat, circle.heartbeat { background: #7d8796; fill: #7d8796; }
.dot.requestVote, circle.requestVote { background: #ff8f3d; fill: #ff8f3d; }
.dot.preVote, circle.preVote { background: #ffd23d; fill: #ffd23d; }
.dot.response, circle.response { background: #cfd8e6; fill: #cfd8e6; }
.dot.installSnapshot, circle.installSnapshot { background: #b48cff; fill: #b48cff; }
.dot.timeoutNow, circle.timeoutNow { background: #ff5c6c; fill: #ff5c6c; }
.dot.readIndex, circle.readIndex { background: #3ddc97; fill: #3ddc97; }
.link { stroke: var(--line); stroke-width: 2; }
.link.cut { stroke: var(--danger); stroke-dasharray: 6 6; opacity: .6; }
.node { cursor: pointer; }
.node .body { stroke: #0b0f15; stroke-width: 3; }
.node[data-role="leader"] .body { fill: var(--leader); }
.node[data-role="follower"] .body { fill: var(--follower); }
.node[data-role="candidate"] .body, .node[data-role="precandidate"] .body { fill: var(--candidate); }
.node[data-role="learner"] .body { fill: var(--learner); }
.node[data-role="down"] .body { fill: var(--down); }
.node[data-role="removed"] .body { fill: var(--alien); }
.node .label { fill: #0b0f15; font-weight: 700; font-size: 22px; text-anchor: middle; }
.node[data-role="down"] .label, .node[data-role="removed"] .label { fill: #c9ced6; }
.node .facts { fill: var(--text); font-size: 13px; text-anchor: middle; }
.node .arc { fill: none; stroke: #ffffff; stroke-width: 4; stroke-linecap: round; opacity: .75; }
.node .ring-partitioned { fill: none; stroke: var(--danger); stroke-width: 3; stroke-dasharray: 5 5; }
.node .badge { fill: var(--candidate); font-size: 12px; text-anchor: middle; font-weight: 600; }
.node .ring-partitioned { pointer-events: none; }
circle.held { stroke: #fff; stroke-width: 2; cursor: pointer; }
#logs .row { display: grid; grid-template-columns: 72px 1fr; align-items: center; margin: 3px 0; }
#logs .name { color: var(--muted); font-size: 13px; }
#logs .strip { display: flex; gap: 2px; flex-wrap: nowrap; overflow: hidden; height: 24px; align-items: center; justify-content: flex-end; }
#logs .box { width: 10px; height: 20px; border-radius: 2px; flex: none; position: relative; }
#logs .box.wide { width: 26px; font: 600 11px/20px system-ui, sans-serif; text-align: center; color: #0b0f15; }
#logs .box.n { opacity: .55; }
#logs .box.c { height: 24px; outline: 2px solid #fff; }
#logs .box.uncommitted { opacity: .45; }
#logs .box.conflict { outline: 2px solid var(--danger); }
#logs .commit { width: 3px; height: 24px; background: #fff; flex: none; }
#logs .snap { padding: 0 5px; height: 20px; border-radius: 3px; background: #333c4c; color: var(--muted); font-size: 11px; line-height: 20px; flex: none; }
#tabs { display: flex; gap: 4px; margin: 8px 0 6px; border-bottom: 1px solid var(--line); }
#tabs button { border-radius: 6px 6px 0 0; border-bottom: none; background: transparent; color: var(--muted); padding: 4px 12px; }
#tabs button[aria-selected="true"] { background: var(--panel); color: var(--text); border-color: var(--line); }
#watch-badge { color: var(--leader); font-size: 13px; }
#events-badge { color: var(--candidate); font-size: 13px; }
.tab { flex: 1; min-height: 0; overflow-y: auto; overflow-x: hidden; padding-right: 4px; }
input, select { background: #0d1118; color: var(--text); border: 1px solid var(--line); border-radius: 5px; padding: 4px 7px; font: inherit; min-width: 0; }
#client { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 6px; }
#client .buttons { grid-column: 1 / -1; display: flex; gap: 6px; flex-wrap: wrap; }
#client-answer { grid-column: 1 / -1; margin: 0; min-height: 1.4em; white-space: pre-wrap; word-break: break-all; color: var(--leader); font-size: 13px; }
#client-answer.error { color: var(--danger); }
#keys-form { display: grid; grid-template-columns: minmax(0, 1fr) auto auto auto; gap: 6px; margin: 8px 0 4px; }
#keys-refresh.stale { border-color: var(--candidate); color: var(--candidate); }
#keys-refresh.stale::after { content: " ●"; }
#keys-table { width: 100%; table-layout: fixed; border-collapse: collapse; font: 13px/1.5 ui-monospace, Menlo, Consolas, monospace; }
#keys-table th { color: var(--muted); font: 12px system-ui, sans-serif; text-align: left; border-bottom: 1px solid var(--line); padding: 1px 4px; }
#keys-table th:nth-child(1) { width: 34%; }
#keys-table th:nth-child(n+3) { width: 13%; text-align: right; }
#keys-table td { padding: 0 4px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; border-bottom: 1px solid #1f2734; }
#keys-table td:nth-child(n+3) { text-align: right; color: var(--muted); }
#keys-table td.empty { color: var(--muted); font-style: italic; }
#keys-rows tr[data-index] { cursor: pointer; }
#keys-rows tr[data-index]:hover { background: #1f2a3b; }
#keys-pager { display: flex; align-items: center; justify-content: space-between; gap: 8px; margin-top: 5px; font-size: 13px; color: var(--muted); }
#keys-info.error { color: var(--danger); }
#watch-form { display: grid; grid-template-columns: auto minmax(0, 1fr) 5.5em auto auto; gap: 6px; }
#watch-status { margin: 6px 0 4px; font-size: 13px; color: var(--muted); }
#watch-status.live { color: var(--leader); }
#watch-status.lost, #watch-status.error { color: var(--danger); }
#watch-events { list-style: none; margin: 0; padding: 0; font: 13px/1.5 ui-monospace, Menlo, Consolas, monospace; }
#watch-events li { border-bottom: 1px solid #1f2734; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
#watch-events .rev { display: inline-block; width: 6.5em; color: var(--muted); }
#watch-events .type { display: inline-block; width: 4.5em; }
#watch-events .put .type { color: var(--leader); }
#watch-events .delete .type { color: var(--danger); }
#watch-events .marker { color: var(--candidate); text-align: center; font-family: system-ui, sans-serif; font-size: 12px; }
#events { list-style: none; margin: 0; padding: 0; font: 12px/1.4 ui-monospace, Menlo, Consolas, monospace; }
#events li { border-bottom: 1px solid #1f2734; padding: 1px 0; }
#events .warning { color: var(--candidate); }
#events .error { color: var(--danger); }
.menu { position: fixed; z-index: 10; background: #1d2533; border: 1px solid #3a4a63; border-radius: 8px; padding: 6px; min-width: 200px; box-shadow: 0 8px 30px #0008; }
.menu h3 { margin: 2px 6px 6px; font-size: 14px; }
.menu button { display: block; width: 100%; text-align: left; margin: 2px 0; }
dialog { background: var(--panel); color: var(--text); border: 1px solid var(--line); border-radius: 10px; }
#timeline { padding: 4px 12px 8px; background: var(--panel); border-top: 1px solid var(--line); }
.tl-row { display: flex; align-items: center; gap: 6px; }
#tl-track { position: relative; flex: 1; height: 44px; }
#tl-marks { position: absolute; left: 8px; right: 8px; top: 0; width: calc(100% - 16px); height: 22px; }
#tl-marks line { stroke-width: 2.5; cursor: pointer; vector-effect: non-scaling-stroke; }
#tl-marks line.leader { stroke: var(--leader); }
#tl-marks line.election, #tl-marks line.prevote { stroke: var(--candidate); }
#tl-marks line.prevote { opacity: .5; }
#tl-marks line.stop, #tl-marks line.problem { stroke: var(--danger); }
#tl-marks line.start, #tl-marks line.restart { stroke: #cfd8e6; }
#tl-marks line.partition { stroke: #ff8fa0; stroke-dasharray: 2 2; }
#tl-marks line.snapshot { stroke: var(--learner); }
#tl-marks line.membership { stroke: #4fd1c5; }
#tl-marks line.write { stroke: var(--follower); opacity: .6; }
#tl-marks line.scenario { stroke: #ffffff; opacity: .35; }
#tl-marks line.admin { stroke: #8d99ab; opacity: .4; }
#tl-slider { position: absolute; left: 0; right: 0; bottom: 0; width: 100%; margin: 0; }
#tl-where { min-width: 210px; font-variant-numeric: tabular-nums; color: var(--muted); font-size: 13px; }
#tl-summary { font-size: 13px; color: var(--text); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; min-height: 1.3em; }
#tab-step { font-size: 13px; }
#tab-step h3 { font-size: 13px; margin: 8px 0 3px; color: var(--muted); font-weight: 600; }
#tab-step ul { margin: 0; padding-left: 18px; font: 12px/1.45 ui-monospace, Menlo, Consolas, monospace; }
#tab-step .input { font: 13px/1.4 ui-monospace, Menlo, Consolas, monospace; color: var(--candidate); }
#events li.current { background: #22304a; }
#events .kind-scenario { color: #ffffff; }
#events .kind-leader { color: var(--leader); }
#events .kind-stop, #events .kind-problem { color: var(--danger); }
#info-dialog { max-width: 640px; }
#info-dialog a { color: var(--leader); margin-right: 12px; }
#info-text { white-space: pre-wrap; }
body[data-mode="replay"] .controls, body[data-mode="replay"] #tabs [data-tab="client"], body[data-mode="replay"] #tabs [data-tab="watch"] { display: none; }
body[data-mode="replay"] h1 .sub { color: var(--candidate); }
#partition-nodes label { display: inline-flex; gap: 6px; margin: 4px 10px 4px 0; align-items: center; }
"""#
