// The live tail: the tenant's stream over the WebSocket (/api/v1/logs/stream),
// authenticated by a short-lived stream-only token the page asks for with its
// session (POST, CSRF-checked). A reconnect resumes from the last cursor: the
// server replays what was missed (with an overlap, which is dropped here by
// event id); when it cannot (too much missed, or too long ago) the page says so
// and links the search. Pause holds new events (up to MAX_ROWS) and counts them.
(function () {
  const tail = document.getElementById("tail");
  if (!tail) return;
  const rows = document.getElementById("tail-rows");
  const status = document.getElementById("status");
  const held = document.getElementById("held");
  const pause = document.getElementById("pause");
  const MAX_ROWS = 500;
  const shownIds = new Set();
  const shownOrder = [];
  let paused = false;
  let waiting = [];
  let cursor = null;
  let retry = 1000;

  function csrf() {
    const match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    return td;
  }

  function seen(id) {
    // The ids shown lately (the replay's overlap repeats some); bounded.
    if (shownIds.has(id)) return true;
    shownIds.add(id);
    shownOrder.push(id);
    if (shownOrder.length > 5 * MAX_ROWS) shownIds.delete(shownOrder.shift());
    return false;
  }

  function notice(text, link) {
    const tr = document.createElement("tr");
    tr.className = "notice";
    const td = document.createElement("td");
    td.colSpan = 7;
    td.textContent = text + " ";
    if (link) {
      const a = document.createElement("a");
      a.href = link;
      a.textContent = "Search for them";
      td.appendChild(a);
    }
    tr.appendChild(td);
    rows.insertBefore(tr, rows.firstChild);
  }

  function show(event) {
    const tr = document.createElement("tr");
    tr.className = "sev-" + String(event.severity || "").toLowerCase();
    const time = document.createElement("td");
    const link = document.createElement("a");
    link.href = tail.dataset.eventUrl + encodeURIComponent(event.id) + "/";
    link.textContent = event.timestamp;
    time.appendChild(link);
    tr.appendChild(time);
    const resource = event.resource_type + (event.resource_id ? "/" + event.resource_id : "");
    [event.severity, event.action, event.user_id, resource, event.ip_address, event.category]
      .forEach((value) => tr.appendChild(cell(value)));
    rows.insertBefore(tr, rows.firstChild);
    while (rows.children.length > MAX_ROWS) rows.removeChild(rows.lastChild);
  }

  function showHeld() {
    held.textContent = waiting.length ? waiting.length + " new while paused" : "";
  }

  pause.addEventListener("click", () => {
    paused = !paused;
    pause.setAttribute("aria-pressed", String(paused));
    pause.textContent = paused ? "Resume" : "Pause";
    if (!paused) {
      waiting.forEach(show);
      waiting = [];
    }
    showHeld();
  });

  async function token() {
    const answer = await fetch(tail.dataset.tokenUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf() },
    });
    if (answer.status === 401 || answer.status === 403) {
      const refused = new Error("token refused: " + answer.status);
      refused.final = true;
      throw refused;
    }
    if (!answer.ok) throw new Error("token refused: " + answer.status);
    return (await answer.json()).token;
  }

  async function connect() {
    let bearer;
    try {
      bearer = await token();
    } catch (error) {
      if (error.final) {
        status.textContent = "Not connected: log in again, then reload this page.";
        tail.dataset.state = "closed";
        return;
      }
      status.textContent = "Not connected (" + error.message + "); retrying…";
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
      return;
    }
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const query = "tenant_id=" + encodeURIComponent(tail.dataset.tenant) + "&" + tail.dataset.filters;
    const socket = new WebSocket(scheme + "//" + location.host + "/api/v1/logs/stream?" + query, ["auditlog.v1"]);
    socket.addEventListener("open", () => {
      const hello = { type: "auth", token: bearer };
      if (cursor) hello.cursor = cursor;
      socket.send(JSON.stringify(hello));
    });
    socket.addEventListener("message", (message) => {
      const data = JSON.parse(message.data);
      if (data.cursor) cursor = data.cursor;
      if (data.type === "subscribed") {
        status.textContent = "Live";
        tail.dataset.state = "live";
        retry = 1000;
      } else if (data.type === "event") {
        const event = data.event;
        if (seen(event.id)) return;
        if (paused) {
          waiting.push(event);
          if (waiting.length > MAX_ROWS) waiting.shift();
          showHeld();
        } else {
          show(event);
        }
      } else if (data.type === "replay_unavailable") {
        const params = new URLSearchParams(data.list_params || {});
        params.delete("tenant_id");
        params.delete("ordering");
        params.delete("cursor");
        notice("Events were missed while disconnected and cannot be replayed here (" +
          data.reason + ").", tail.dataset.eventUrl + "?" + params.toString());
      }
    });
    socket.addEventListener("close", (closed) => {
      tail.dataset.state = "closed";
      if (closed.code === 4403 || closed.code === 4400) {
        status.textContent = "Closed: " + (closed.reason || closed.code);
        return;
      }
      status.textContent = "Disconnected (" + closed.code + "); reconnecting…";
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    });
  }

  connect();
})();
