"use strict";
// The room page: one WebSocket to /ws on the same address. The server sends
// JSON objects: {kind:"you",addr,max_line}, {kind:"line",from,text},
// {kind:"private",from,text} (a /msg to this page), {kind:"notice",text}
// (with entered / left / renamed+now naming a member), {kind:"who",total,
// members,more} (the answer to /who), and {kind:"sent"} / {kind:"refused",why}
// (the answer to each message this page sent, in the order they were sent).
// Every text goes into the page with textContent, never as HTML.
const $ = (id) => document.getElementById(id);
const log = $("log"), box = $("text"), state = $("state"), me = $("me"), error = $("error"),
  newer = $("newer"), nick = $("nick"), list = $("members"), count = $("count");
const MAX_ROWS = 2000;
const NICK_KEY = "lanchat-nick";
let ws = null, retry = 1000, unseen = 0, maxLine = 65536, myLabel = "", inHistory = false,
  quietWho = 0;
const waiting = []; // {text, quiet}: messages sent, not yet answered

function atBottom() { return log.scrollHeight - log.scrollTop - log.clientHeight < 24; }

// A sender keeps its colour; neighbours in the palette are far apart.
const PALETTE = ["#1565c0", "#c62828", "#6a1b9a", "#ef6c00", "#00838f", "#ad1457", "#4e342e", "#558b2f"];
function colour(name) {
  let h = 0;
  for (const c of name) h = (h * 31 + c.codePointAt(0)) >>> 0;
  return PALETTE[h % PALETTE.length];
}

// "NAME@ip:port" → {name, addr}; "ip:port" → {name: "", addr}.
function split(who) {
  const at = who.indexOf("@");
  return at < 0 ? { name: "", addr: who } : { name: who.slice(0, at), addr: who.slice(at + 1) };
}

function add(kind, from, text) {
  const follow = atBottom();
  const row = document.createElement("div");
  row.className = "msg " + kind + (inHistory ? " history" : "");
  const time = document.createElement("time");
  time.textContent = inHistory ? "" : new Date().toLocaleTimeString("en-GB", { hour12: false });
  row.append(time);
  if (from) {
    // A name in bold, its address small after it; the text is the room's
    // whole name for the sender either way.
    const who = document.createElement("span");
    who.className = "from";
    const { name, addr } = split(from);
    if (name && kind === "line") {
      const at = document.createElement("small");
      at.textContent = `@${addr}`;
      who.append(name, at);
    } else {
      who.textContent = from;
    }
    if (kind === "line") who.style.color = colour(addr);
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

// The member list: one <li> per member, keyed by how the room names it.
function memberItem(who) {
  const li = document.createElement("li");
  li.dataset.who = who;
  const { name, addr } = split(who);
  const n = document.createElement("b");
  n.textContent = name;
  const a = document.createElement("span");
  a.textContent = addr;
  li.append(n, a);
  li.title = who === myLabel ? "you" : `click: /msg ${name || addr}`;
  if (who === myLabel) li.className = "you";
  return li;
}
function findMember(who) {
  for (const li of list.children) if (li.dataset.who === who) return li;
  return null;
}
function addMember(who) { if (!findMember(who)) list.append(memberItem(who)); counted(); }
function removeMember(who) { const li = findMember(who); if (li) li.remove(); counted(); }
function renameMember(who, now) {
  const { addr } = split(who);
  const next = now === addr ? addr : `${now}@${addr}`;
  if (who === myLabel) { myLabel = next; me.textContent = next; }
  const li = findMember(who);
  if (li) li.replaceWith(memberItem(next)); else addMember(next);
}
function counted() { count.textContent = list.childElementCount; }

function setState(cls, text) {
  state.className = cls;
  state.textContent = text;
}

function showError(text) {
  error.textContent = text;
  error.hidden = !text;
}

function sendRaw(text, quiet) {
  if (!ws || ws.readyState !== WebSocket.OPEN) return;
  waiting.push({ text, quiet });
  ws.send(text);
}

function sendNick() {
  const name = nick.value.trim();
  localStorage.setItem(NICK_KEY, name);
  if (name || myLabel.includes("@")) sendRaw(name ? `/nick ${name}` : "/nick", true);
}

function connect() {
  setState("connecting", "connecting…");
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  ws = new WebSocket(`${scheme}://${location.host}/ws`);
  ws.onopen = () => {
    retry = 1000;
    setState("open", "connected");
    list.replaceChildren();
    counted();
    quietWho += 1;
    sendRaw("/who", true);
    if (nick.value.trim()) sendNick();
  };
  ws.onmessage = (ev) => {
    let m;
    try { m = JSON.parse(ev.data); } catch { return; }
    switch (m.kind) {
      case "you": myLabel = m.addr; me.textContent = m.addr; maxLine = m.max_line || maxLine; break;
      case "line": add("line", m.from, m.text); break;
      case "private": add("private", `${m.from} → me`, m.text); break;
      case "notice":
        if (/^! last \d+ lines:$/.test(m.text)) { add("notice", "", m.text); inHistory = true; break; }
        if (m.text === "! end of history") { inHistory = false; add("notice", "", m.text); break; }
        add("notice", "", m.text);
        if (m.entered) addMember(m.entered);
        if (m.left) removeMember(m.left);
        if (m.renamed) renameMember(m.renamed, m.now);
        if (m.text.startsWith("! nick ") || m.text.startsWith("! no member ")) showError(m.text);
        break;
      case "who":
        list.replaceChildren(...m.members.map(memberItem));
        counted();
        if (quietWho > 0) { quietWho -= 1; break; }
        add("notice", "", `! ${m.total} members: ${m.members.join(", ")}${m.more ? ` … and ${m.more} more` : ""}`);
        break;
      case "sent": {
        const sent = waiting.shift();
        if (sent === undefined) break;
        if (!sent.quiet) {
          const msg = /^\/msg (\S+) (.*)$/s.exec(sent.text);
          if (msg) add("private me", `me → ${msg[1]}`, msg[2]);
          else if (!/^\/(nick|who)( |$)/.test(sent.text)) add("me", "me", sent.text);
          if (box.value === sent.text) box.value = "";
          showError("");
        }
        break;
      }
      case "refused": {
        const sent = waiting.shift();
        if (sent && !sent.quiet) showError(m.why); // the text stays in the box
        break;
      }
    }
  };
  ws.onclose = (ev) => {
    waiting.length = 0;
    quietWho = 0;
    inHistory = false;
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
  sendRaw(text, false);
}

$("send").addEventListener("submit", (ev) => { ev.preventDefault(); send(); });
box.addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); send(); }
});
log.addEventListener("scroll", () => {
  if (atBottom()) { unseen = 0; newer.hidden = true; }
});
newer.addEventListener("click", () => { log.scrollTop = log.scrollHeight; });
nick.value = localStorage.getItem(NICK_KEY) || "";
nick.addEventListener("change", sendNick);
nick.addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); nick.blur(); } });
list.addEventListener("click", (ev) => {
  const li = ev.target.closest("li");
  if (!li || li.dataset.who === myLabel) return;
  const { name, addr } = split(li.dataset.who);
  box.value = `/msg ${name || addr} `;
  box.focus();
});
// Placeholders that fit: the longest of each list that the box shows whole
// (a phone's width cuts the long one off mid-word).
const PLACEHOLDERS = [
  [box, ["输入消息 · Enter 发送 · /msg 名字 悄悄话", "输入消息 · Enter 发送", "输入消息"]],
  [nick, ["名字 / your name", "名字"]],
];
function fitPlaceholders() {
  for (const [el, texts] of PLACEHOLDERS) {
    // Measured as the browser lays text out in that box, in its font.
    const cs = getComputedStyle(el), probe = document.createElement("span");
    probe.style.cssText = "position:absolute;visibility:hidden;white-space:pre";
    for (const p of ["fontFamily", "fontSize", "fontWeight", "letterSpacing"]) probe.style[p] = cs[p];
    document.body.append(probe);
    const room = el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    el.placeholder = texts.find((t) => {
      probe.textContent = t;
      return probe.getBoundingClientRect().width <= room;
    }) || texts[texts.length - 1];
    probe.remove();
  }
}
fitPlaceholders();
window.addEventListener("resize", fitPlaceholders);
connect();
