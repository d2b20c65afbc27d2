"use strict";
// The room page: one WebSocket to /ws on the same address. The server sends
// JSON objects: {kind:"you",addr,max_line}, {kind:"line",from,text}, {kind:"notice",text},
// {kind:"sent"} / {kind:"refused",why} (the answer to each message this page
// sent, in the order they were sent). Every text goes into the page with textContent,
// never as HTML.
const $ = (id) => document.getElementById(id);
const log = $("log"), box = $("text"), state = $("state"), me = $("me"), error = $("error"), newer = $("newer");
const MAX_ROWS = 2000;
let ws = null, retry = 1000, unseen = 0, maxLine = 65536;
const waiting = []; // texts sent, not yet answered

function atBottom() { return log.scrollHeight - log.scrollTop - log.clientHeight < 24; }

// A sender keeps its colour; neighbours in the palette are far apart.
const PALETTE = ["#1565c0", "#c62828", "#6a1b9a", "#ef6c00", "#00838f", "#ad1457", "#4e342e", "#558b2f"];
function colour(name) {
  let h = 0;
  for (const c of name) h = (h * 31 + c.codePointAt(0)) >>> 0;
  return PALETTE[h % PALETTE.length];
}

function add(kind, from, text) {
  const follow = atBottom();
  const row = document.createElement("div");
  row.className = "msg " + kind;
  const time = document.createElement("time");
  time.textContent = new Date().toLocaleTimeString("en-GB", { hour12: false });
  row.append(time);
  if (from) {
    const who = document.createElement("span");
    who.className = "from";
    who.textContent = from;
    if (kind === "line") who.style.color = colour(from);
    row.append(who);
  }
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  row.append(body);
  log.append(row);
  while (log.childElementCount > MAX_ROWS) log.firstElementChild.remove();
  if (follow) {
    log.scrollTop = log.scrollHeight;
  } else {
    unseen += 1;
    newer.textContent = `↓ ${unseen} new`;
    newer.hidden = false;
  }
}

function setState(cls, text) {
  state.className = cls;
  state.textContent = text;
}

function showError(text) {
  error.textContent = text;
  error.hidden = !text;
}

function connect() {
  setState("connecting", "connecting…");
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  ws = new WebSocket(`${scheme}://${location.host}/ws`);
  ws.onopen = () => {
    retry = 1000;
    setState("open", "connected");
  };
  ws.onmessage = (ev) => {
    let m;
    try { m = JSON.parse(ev.data); } catch { return; }
    switch (m.kind) {
      case "you": me.textContent = m.addr; maxLine = m.max_line || maxLine; break;
      case "line": add("line", m.from, m.text); break;
      case "notice": add("notice", "", m.text); break;
      case "sent": {
        const text = waiting.shift();
        if (text === undefined) break;
        add("me", "me", text);
        if (box.value === text) box.value = "";
        showError("");
        break;
      }
      case "refused": {
        waiting.shift();
        showError(m.why); // the text stays in the box
        break;
      }
    }
  };
  ws.onclose = (ev) => {
    waiting.length = 0;
    const why = ev.reason ? `: ${ev.reason}` : "";
    setState("closed", `disconnected${why}; reconnecting in ${retry / 1000} s`);
    setTimeout(connect, retry);
    retry = Math.min(retry * 2, 10000);
  };
}

function send() {
  const text = box.value;
  if (!text.trim() || !ws || ws.readyState !== WebSocket.OPEN) return;
  const size = new TextEncoder().encode(text).length;
  if (size > maxLine) {
    // The room would close the connection for it: refuse it here.
    showError(`${size} bytes: the room takes at most ${maxLine} bytes at a time`);
    return;
  }
  waiting.push(text);
  ws.send(text);
}

$("send").addEventListener("submit", (ev) => { ev.preventDefault(); send(); });
box.addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); send(); }
});
log.addEventListener("scroll", () => {
  if (atBottom()) { unseen = 0; newer.hidden = true; }
});
newer.addEventListener("click", () => { log.scrollTop = log.scrollHeight; });
connect();
