/* The resident's rating page: no inline script (Content-Security-Policy). */
(function () {
  const base = location.pathname.replace(/\/+$/, "");
  const message = document.getElementById("message");
  const form = document.getElementById("rate-form");
  function row(label, value) {
    if (!value) return;
    const dt = document.createElement("dt"); dt.textContent = label;
    const dd = document.createElement("dd"); dd.textContent = value;
    document.getElementById("facts").append(dt, dd);
  }
  fetch(base + "/facts").then(async (r) => {
    const data = await r.json();
    if (!r.ok) { message.textContent = data.detail; return; }
    row("事件类别", [data.category_code, data.category_zh].filter(Boolean).join(" "));
    row("办理状态", data.state_zh);
    row("上报时间", data.reported_at);
    row("办结时间", data.resolved_at);
    row("结案时间", data.closed_at);
    row("事件描述", data.description);
    if (data.rated) { message.textContent = "该事件已评价，感谢您的参与。"; return; }
    for (const level of data.levels) {
      const label = document.createElement("label");
      const input = document.createElement("input");
      input.type = "radio"; input.name = "level"; input.value = level.code; input.required = true;
      label.append(input, " " + level.name_zh);
      document.getElementById("levels").append(label);
    }
    form.hidden = false;
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const level = form.querySelector("input[name=level]:checked");
    const r = await fetch(base, {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({level: level && level.value, note: document.getElementById("note").value})});
    const data = await r.json();
    message.textContent = r.ok ? data.message : data.detail;
    if (r.ok || r.status === 409) form.hidden = true;
  });
})();
