/* The resident's survey page: no inline script (Content-Security-Policy). */
(function () {
  const id = location.pathname.replace(/\/+$/, "").split("/").pop();
  const form = document.getElementById("survey-form");
  const message = document.getElementById("message");
  fetch("/surveys/" + encodeURIComponent(id) + "/form").then(async (r) => {
    const data = await r.json();
    if (!r.ok) { message.textContent = data.detail; return; }
    document.getElementById("title").textContent = data.title;
    for (const g of data.grids) {
      const option = document.createElement("option");
      option.value = g.code; option.textContent = g.name ? g.name + "（" + g.code + "）" : g.code;
      document.getElementById("grid").append(option);
    }
    for (const q of data.questions) {
      const box = document.createElement("fieldset");
      const legend = document.createElement("legend"); legend.textContent = q.order + ". " + q.text_zh;
      box.append(legend);
      for (const level of data.levels) {
        const label = document.createElement("label");
        const input = document.createElement("input");
        input.type = "radio"; input.name = q.code; input.value = level.code;
        label.append(input, " " + level.name_zh);
        box.append(label);
      }
      document.getElementById("questions").append(box);
    }
    if (!data.open) { message.textContent = "问卷不在填写期内（" + data.opens_on + " 至 " + data.closes_on + "）"; return; }
    form.hidden = false;
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const answers = {};
    for (const input of form.querySelectorAll("input[type=radio]:checked")) answers[input.name] = input.value;
    const r = await fetch("/surveys/" + encodeURIComponent(id) + "/responses", {method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({grid_code: document.getElementById("grid").value, answers})});
    const data = await r.json();
    message.textContent = r.ok ? data.message : data.detail;
    if (r.ok) form.hidden = true;
  });
})();
