"use strict";
// One page, served two ways: by room-server --web (the room's page) and by
// lanchat --gui (the desktop window, whose page carries its token in a
// <meta name="lanchat-token">). The parts below the helpers are the room's
// (room()) and the desktop window's (desktop()); the helpers, the layout
// and the ids (#messages, #input, #members, #status, #file, #quit) are
// shared. Every text goes into the page with textContent, never as HTML.
//
// The room page: one WebSocket to /ws on the same address. The server sends
// JSON objects: {kind:"you",addr,max_line}, {kind:"line",from,text},
// {kind:"private",from,text} (a /msg to this page), {kind:"notice",text}
// (with entered / left / renamed+now naming a member), {kind:"who",total,
// members,more} (the answer to /who), and {kind:"sent"} / {kind:"refused",why}
// (the answer to each message this page sent, in the order they were sent).
// Every text goes into the page with textContent, never as HTML.
const $ = (id) => document.getElementById(id);

// The page's words in the browser's language: the catalog comes inside the
// page (<script id="words">, both languages); the first of the browser's
// languages that is Chinese or English chooses, else English.
const WORDS = (() => { try { return JSON.parse($("words").textContent); } catch { return {}; } })();
const LANG = (() => {
  for (const l of navigator.languages || [navigator.language || "en"]) {
    const lower = l.toLowerCase();
    if (lower.startsWith("zh")) return "zh-CN";
    if (lower.startsWith("en")) return "en";
  }
  return "en";
})();
function tr(key, args = {}) {
  let s = (WORDS[LANG] || {})[key] ?? (WORDS.en || {})[key] ?? key;
  for (const [k, v] of Object.entries(args)) s = s.split(`%{${k}}`).join(String(v));
  return s;
}
document.documentElement.lang = LANG;
for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = tr(el.dataset.i18n);
for (const el of document.querySelectorAll("[data-i18n-title]")) el.title = tr(el.dataset.i18nTitle);
for (const el of document.querySelectorAll("[data-i18n-aria-label]")) el.setAttribute("aria-label", tr(el.dataset.i18nAriaLabel));
// A notice of the room in the reader's words (the room says them in English).
function noticeText(m) {
  if (m.say) return tr(m.say.key, m.say.args);
  if (m.entered) return tr("room.notice.entered", { who: m.entered });
  if (m.left) return tr(m.text.endsWith(" (too slow)") ? "room.notice.left_slow" : "room.notice.left", { who: m.left });
  if (m.renamed) return tr("room.notice.renamed", { who: m.renamed, now: m.now });
  return m.text;
}
const log = $("messages"), box = $("input"), state = $("state"), me = $("me"), error = $("error"),
  newer = $("newer"), nick = $("nick"), list = $("members"), count = $("count");
const MAX_ROWS = 2000;
const NICK_KEY = "lanchat-nick";
// The room password, remembered for this tab's session only.
const PASS_KEY = "lanchat-room-password";
const gate = $("gate"), password = $("password"), topic = $("topic");
let isOp = false, stopped = false;
// The words the room reads itself: never shown as a line of the reader's.
const ROOM_WORDS = /^\/(nick|who|pass|op|encoding|kick|mute|unmute|ban|unban|bans|topic)( |$)/;
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
  if (from) row.dataset.from = split(from).addr;
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
    newer.textContent = tr("page.new", { n: unseen });
    newer.hidden = false;
  }
}

// The member list: one <li> per member, keyed by how the room names it.
function memberItem(who) {
  const li = document.createElement("li");
  // An operator is listed as "@WHO" (a name never holds an "@").
  const op = who.startsWith("@");
  if (op) { who = who.slice(1); li.classList.add("op"); }
  li.dataset.who = who;
  const { name, addr } = split(who);
  li.dataset.addr = addr;
  const n = document.createElement("b");
  n.textContent = name;
  const a = document.createElement("span");
  a.textContent = addr;
  li.append(n, a);
  // What an operator can do to a member (shown once the reader is one).
  const acts = document.createElement("span");
  acts.className = "acts";
  for (const act of ["kick", "mute", "ban"]) {
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.act = act;
    b.textContent = tr(`page.${act}`);
    b.title = tr(`page.${act}_title`, { who: name || addr });
    acts.append(b);
  }
  li.append(acts);
  li.title = who === myLabel ? tr("page.you") : tr("page.click_msg", { name: name || addr });
  if (who === myLabel) li.classList.add("you");
  return li;
}
function markOp(who) { const li = findMember(who); if (li) li.classList.add("op"); }
function setTopic(text) { topic.textContent = text; topic.hidden = !text; }
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
  // An operator stays one under its new name.
  const item = memberItem(li && li.classList.contains("op") ? `@${next}` : next);
  if (li) li.replaceWith(item); else addMember(next);
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
  setState("connecting", tr("page.connecting"));
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  ws = new WebSocket(`${scheme}://${location.host}/ws`);
  ws.onopen = () => {
    retry = 1000;
    setState("open", tr("page.connected"));
    list.replaceChildren();
    counted();
    quietWho += 1;
    sendRaw("/who", true);
    if (nick.value.trim()) sendNick();
    isOp = false;
    document.body.classList.remove("op");
  };
  ws.onmessage = (ev) => {
    let m;
    try { m = JSON.parse(ev.data); } catch { return; }
    switch (m.kind) {
      case "you": myLabel = m.addr; me.textContent = m.addr; maxLine = m.max_line || maxLine; break;
      case "line": add("line", m.from, m.text); break;
      case "private": add("private", tr("page.private_from", { who: m.from }), m.text); break;
      case "notice":
        if (/^! last \d+ lines:$/.test(m.text)) { add("notice", "", noticeText(m)); inHistory = true; break; }
        if (m.text === "! end of history") { inHistory = false; add("notice", "", noticeText(m)); break; }
        if (access(m)) break;
        add("notice", "", noticeText(m));
        if (m.entered) addMember(m.entered);
        if (m.left) removeMember(m.left);
        if (m.renamed) renameMember(m.renamed, m.now);
        if (m.op) markOp(m.op);
        if (m.text.startsWith("! nick ") || m.text.startsWith("! no member ")) showError(noticeText(m));
        break;
      case "who":
        list.replaceChildren(...m.members.map(memberItem));
        counted();
        if (quietWho > 0) { quietWho -= 1; break; }
        add("notice", "", tr("page.who", { n: m.total, list: m.members.join(", ") }) +
          (m.more ? tr("page.who_more", { n: m.more }) : ""));
        break;
      case "sent": {
        const sent = waiting.shift();
        if (sent === undefined) break;
        if (!sent.quiet) {
          const msg = /^\/msg (\S+) (.*)$/s.exec(sent.text);
          if (msg) add("private me", tr("page.private_to", { who: msg[1] }), msg[2]);
          else if (!ROOM_WORDS.test(sent.text)) add("me", tr("page.me"), sent.text);
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
    // Removed by an operator, or banned: the page does not come back.
    if (ev.code === 1008) {
      stopped = true;
      setState("closed", tr("page.removed", { why: ev.reason }));
      gate.hidden = true;
      return;
    }
    // The room's reasons for turning a page away, in the reader's words.
    const reason = { "room full": tr("page.reason_full"),
      "too many connections from this address": tr("page.reason_too_many") }[ev.reason] || ev.reason;
    const secs = retry / 1000;
    setState("closed", reason ? tr("page.disconnected_why", { why: reason, secs }) : tr("page.disconnected", { secs }));
    if (!stopped) setTimeout(connect, retry);
    retry = Math.min(retry * 2, 10000);
  };
}

function send() {
  const text = box.value;
  if (!text.trim() || !ws || ws.readyState !== WebSocket.OPEN) return;
  const size = new TextEncoder().encode(text).length;
  if (size > maxLine) {
    // The room would close the connection for it: refuse it here.
    showError(tr("page.too_long", { size, max: maxLine }));
    return;
  }
  sendRaw(text, false);
}

// The room's gate and its operators: returns whether the notice `m` was
// taken here (and so is not shown as a line).
function access(m) {
  const key = m.say && m.say.key;
  switch (key) {
    case "room.notice.password_required": {
      const known = sessionStorage.getItem(PASS_KEY);
      if (known && gate.dataset.tried !== "1") {
        gate.dataset.tried = "1";
        sendRaw(`/pass ${known}`, true);
      } else {
        gate.hidden = false;
        password.focus();
      }
      return true;
    }
    case "room.notice.wrong_password":
    case "room.notice.too_many_wrong":
      sessionStorage.removeItem(PASS_KEY);
      gate.hidden = false;
      showError(noticeText(m));
      password.select();
      return true;
    case "room.notice.password_accepted":
      gate.hidden = true;
      gate.dataset.tried = "";
      if (password.value) sessionStorage.setItem(PASS_KEY, password.value);
      password.value = "";
      showError("");
      // What was sent while outside was dropped: ask again.
      quietWho = 1;
      sendRaw("/who", true);
      if (nick.value.trim()) sendNick();
      return false;
    case "room.notice.you_are_op":
      isOp = true;
      document.body.classList.add("op");
      return false;
    case "room.notice.topic":
      setTopic(m.say.args.text);
      return false;
    case "room.notice.only_operators":
    case "room.notice.not_yourself":
      showError(noticeText(m));
      return false;
  }
  return false;
}

// The room: the page is a member like a TCP client.
function room() {
  $("send").addEventListener("submit", (ev) => { ev.preventDefault(); send(); });
  box.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); send(); }
  });
  nick.value = localStorage.getItem(NICK_KEY) || "";
  nick.addEventListener("change", sendNick);
  nick.addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); nick.blur(); } });
  gate.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (password.value) sendRaw(`/pass ${password.value}`, true);
  });
  list.addEventListener("click", (ev) => {
    const li = ev.target.closest("li");
    if (!li || li.dataset.who === myLabel) return;
    const act = ev.target.closest("button[data-act]");
    if (act && isOp) {
      const { name, addr } = split(li.dataset.who);
      // A member by its name (or ip:port); a ban is on its address.
      const target = act.dataset.act === "ban" ? addr.replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1") : (name || addr);
      sendRaw(`/${act.dataset.act} ${target}`, false);
      return;
    }
    const { name, addr } = split(li.dataset.who);
    box.value = `/msg ${name || addr} `;
    box.focus();
  });
  connect();
}

log.addEventListener("scroll", () => {
  if (atBottom()) { unseen = 0; newer.hidden = true; }
});
newer.addEventListener("click", () => { log.scrollTop = log.scrollHeight; });
// Placeholders that fit: the longest of each list that the box shows whole
// (a phone's width cuts the long one off mid-word).
const PLACEHOLDERS = [
  [box, ["page.input_long", "page.input_medium", "page.input_short"].map((k) => tr(k))],
  [nick, ["page.nick_long", "page.nick_short"].map((k) => tr(k))],
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

const TOKEN = document.querySelector('meta[name="lanchat-token"]')?.content;
if (TOKEN) desktop(TOKEN); else room();

// ---- the desktop window (lanchat --gui) --------------------------------------
// One WebSocket to /ws?token=…: lanchat sends the window's state,
// {kind:"state",reset,first,entries:[{seq,time,from,addr,kind,text,mark,
// offer,fetchable}],meta:{mode,title,listen,target,encoding,status,
// received,senders,evicted,dropped,transfers,members,hints,newcomer}}
// (at most ~30 a second, only what changed; everything again after
// reset), and {kind:"submitted",id,ok,why,at,text} for each line sent.
// The page sends {kind:"submit",id,text}, {kind:"offer",batch} (after
// uploading the files of that batch) and {kind:"quit"}.
function desktop(token) {
  const q = `token=${encodeURIComponent(token)}`;
  const status = $("status"), quit = $("quit"), attach = $("attach"), file = $("file"),
    drop = $("drop"), title = $("title");
  nick.hidden = true;
  quit.hidden = false;
  status.hidden = false;
  document.body.classList.add("desktop");
  let sock = null, nextId = 1, leaving = false, meta = null, hintRows = [];
  const sent = new Map(); // id → text as sent

  function markText(mark) {
    return { pending: " …", delivered: " ✓", "not-delivered": tr("page.not_delivered") }[mark] || "";
  }

  function row(e) {
    const r = document.createElement("div");
    r.className = `msg ${e.kind}`;
    r.dataset.seq = e.seq;
    if (e.addr) r.dataset.from = e.addr;
    if (e.kind === "me") r.classList.add("me");
    const time = document.createElement("time");
    time.textContent = e.time;
    const who = document.createElement("span");
    who.className = "from";
    who.textContent = e.from;
    if (e.addr) who.style.color = colour(e.addr);
    const body = document.createElement("span");
    body.className = "text";
    body.textContent = e.text + markText(e.mark);
    r.append(time, who, body);
    if (e.offer !== undefined) {
      const o = document.createElement("span");
      o.className = "offer";
      o.dataset.offer = e.offer;
      if (e.fetchable) {
        for (const [action, label] of [["get", tr("page.get")], ["drop", tr("page.drop_offer")]]) {
          const b = document.createElement("button");
          b.type = "button";
          b.dataset.action = action;
          b.textContent = label;
          o.append(b);
        }
      }
      r.append(o);
    }
    return r;
  }

  function bySeq(seq) { return log.querySelector(`.msg[data-seq="${seq}"]`); }
  let lastSeq = 0;

  function entries(u) {
    const follow = atBottom();
    if (u.reset) { log.replaceChildren(); lastSeq = 0; }
    const added = document.createDocumentFragment();
    for (const e of u.entries) {
      if (e.seq > lastSeq) {
        added.append(row(e)); // new: appended (the usual case, and a flood's)
        lastSeq = e.seq;
      } else {
        const old = bySeq(e.seq); // changed: an offer's progress, a ✓
        if (old) old.replaceWith(row(e));
      }
    }
    log.append(added);
    while (log.firstElementChild && Number(log.firstElementChild.dataset.seq) < u.first) {
      log.firstElementChild.remove();
    }
    // A page of a flood keeps the newest rows it can draw at ease.
    while (log.childElementCount > MAX_ROWS) log.firstElementChild.remove();
    if (follow) log.scrollTop = log.scrollHeight;
    else if (u.entries.length) {
      unseen += u.entries.length;
      newer.textContent = tr("page.new", { n: unseen });
      newer.hidden = false;
    }
  }

  function showMeta(m) {
    meta = m;
    title.textContent = m.title;
    document.title = m.title;
    me.textContent = m.listen;
    attach.hidden = m.mode !== "IPMsg";
    // The status: the latest message first, then the facts.
    status.replaceChildren();
    if (m.newcomer) {
      const hint = document.createElement("span");
      hint.className = "info";
      hint.textContent = tr("window.newcomer");
      status.append(hint);
    }
    if (m.status) {
      const [level, text] = m.status;
      const s = document.createElement("span");
      s.className = level;
      s.textContent = text;
      status.append(s);
    }
    const facts = document.createElement("span");
    facts.className = "facts";
    let f = tr("window.facts", {
      mode: m.mode === "room" ? tr("window.mode_room") : m.mode, listen: m.listen, target: m.target, encoding: m.encoding,
      received: m.received, senders: m.senders,
    });
    if (m.dropped) f += tr("window.facts_dropped", { n: m.dropped });
    if (m.evicted) f += tr("window.facts_evicted", { n: m.evicted });
    if (m.transfers) f += " │ " + tr("window.transfers", { n: m.transfers });
    facts.textContent = f;
    status.append(facts);
    // The members: IP Messenger and room users, or the UDP senders heard.
    $("members-title").textContent = tr(m.mode === "UDP" ? "page.senders" : "page.users");
    list.replaceChildren(...m.members.map((u) => {
      const li = document.createElement("li");
      li.dataset.addr = u.addr;
      const n = document.createElement("b");
      n.textContent = u.name;
      const a = document.createElement("span");
      a.textContent = u.addr;
      li.append(n, a);
      if (u.me) li.className = "you";
      if (u.selected) li.classList.add("selected");
      // A room's operator (its group is "@"): marked as on the room's page.
      if (m.mode === "room" && u.group === "@") li.classList.add("op");
      li.title = u.me ? tr("page.you") : tr("page.click_to");
      return li;
    }));
    count.textContent = m.members.length;
    // An empty window says how to begin.
    for (const h of hintRows) h.remove();
    hintRows = [];
    if (!log.querySelector(".msg")) {
      hintRows = m.hints.map((t) => {
        const h = document.createElement("div");
        h.className = "hint";
        h.textContent = t;
        return h;
      });
      log.append(...hintRows);
    }
  }

  // What is typed goes at once (the box is free for the next line, as in
  // the terminal); a line lanchat refuses comes back into the box.
  function submit(text, fromBox) {
    if (!sock || sock.readyState !== WebSocket.OPEN) return;
    const id = nextId++;
    sent.set(id, text);
    if (fromBox) box.value = "";
    sock.send(JSON.stringify({ kind: "submit", id, text }));
  }

  function answered(m) {
    const text = sent.get(m.id);
    sent.delete(m.id);
    if (m.ok) {
      showError("");
      return;
    }
    // Refused: the text back in the box (unless something else is typed
    // there now), the reason beside it, the cursor on the culprit.
    const back = m.text !== undefined ? m.text : text;
    if (back !== undefined && !box.value) box.value = back;
    showError(m.why || tr("page.not_sent"));
    if (m.at !== undefined && m.at !== null && box.value === back) {
      const at = [...back].slice(0, m.at).join("").length;
      box.focus();
      box.setSelectionRange(at, at);
    }
  }

  function open() {
    setState("connecting", tr("page.connecting"));
    sock = new WebSocket(`ws://${location.host}/ws?${q}`);
    sock.onopen = () => { retry = 1000; setState("open", tr("page.connected")); };
    sock.onmessage = (ev) => {
      let m;
      try { m = JSON.parse(ev.data); } catch { return; }
      if (m.kind === "state") {
        // Counted, for whoever measures how often the page is updated.
        document.body.dataset.updates = Number(document.body.dataset.updates || 0) + 1;
        if (m.entries.length || m.reset) entries(m);
        if (m.meta) showMeta(m.meta);
      } else if (m.kind === "submitted") answered(m);
      else if (m.kind === "error") showError(m.why);
    };
    sock.onclose = () => {
      if (leaving) { setState("closed", tr("page.left")); return; }
      setState("closed", tr("page.not_answering", { secs: retry / 1000 }));
      setTimeout(open, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }

  // Typing: Enter sends (lines of a message as lines), Shift+Enter a new line.
  $("send").addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (box.value.trim()) submit(box.value, true);
  });
  box.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      if (box.value.trim()) submit(box.value, true);
    }
  });
  // A click on a member makes it the target.
  list.addEventListener("click", (ev) => {
    const li = ev.target.closest("li");
    if (!li || li.classList.contains("you") || !meta) return;
    const name = li.querySelector("b").textContent;
    if (meta.mode === "room") {
      box.value = `/msg ${name || li.dataset.addr} `;
      box.focus();
    } else if (meta.mode === "IPMsg") {
      submit(`/to ${li.dataset.addr.replace(/:\d+$/, "")}`);
    } else {
      submit(`/to ${li.dataset.addr}`);
    }
  });
  // An offer's buttons.
  log.addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-action]");
    if (!b) return;
    const n = b.closest(".offer").dataset.offer;
    submit(`/${b.dataset.action} ${n}`);
  });
  quit.addEventListener("click", () => {
    leaving = true;
    if (sock && sock.readyState === WebSocket.OPEN) sock.send(JSON.stringify({ kind: "quit" }));
  });

  // Files: uploaded into lanchat's spool as one batch, then offered.
  async function upload(batch, path, body, dir) {
    const url = `/upload?${q}&batch=${batch}&path=${encodeURIComponent(path)}${dir ? "&dir=1" : ""}`;
    const r = await fetch(url, { method: "PUT", body: dir ? "" : body });
    if (!r.ok) throw new Error((await r.json().catch(() => ({}))).why || r.statusText);
  }
  async function offer(items) {
    const batch = `b${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    try {
      for (const [path, body, dir] of items) await upload(batch, path, body, dir);
      sock.send(JSON.stringify({ kind: "offer", batch }));
    } catch (e) {
      showError(tr("page.not_offered", { why: e.message }));
    }
  }
  file.addEventListener("change", () => {
    const items = [...file.files].map((f) => [f.name, f, false]);
    file.value = "";
    if (items.length) offer(items);
  });
  // A folder dropped on the window is walked (the browser hands its tree over).
  function walk(entry, out) {
    return new Promise((done) => {
      if (entry.isFile) {
        entry.file((f) => { out.push([entry.fullPath.replace(/^\//, ""), f, false]); done(); }, () => done());
      } else if (entry.isDirectory) {
        out.push([entry.fullPath.replace(/^\//, ""), null, true]);
        const reader = entry.createReader();
        const more = () => reader.readEntries(async (list) => {
          if (!list.length) return done();
          for (const e of list) await walk(e, out);
          more();
        }, () => done());
        more();
      } else done();
    });
  }
  let dragging = 0;
  window.addEventListener("dragenter", (ev) => { ev.preventDefault(); if (meta?.mode === "IPMsg") { dragging++; drop.hidden = false; } });
  window.addEventListener("dragleave", () => { if (--dragging <= 0) { dragging = 0; drop.hidden = true; } });
  window.addEventListener("dragover", (ev) => ev.preventDefault());
  window.addEventListener("drop", async (ev) => {
    ev.preventDefault();
    dragging = 0;
    drop.hidden = true;
    if (meta?.mode !== "IPMsg") { showError(tr("files.need_ipmsg")); return; }
    const out = [];
    for (const it of [...ev.dataTransfer.items]) {
      const entry = it.webkitGetAsEntry && it.webkitGetAsEntry();
      if (entry) await walk(entry, out);
      else if (it.kind === "file") { const f = it.getAsFile(); out.push([f.name, f, false]); }
    }
    if (out.length) offer(out);
  });
  open();
}
