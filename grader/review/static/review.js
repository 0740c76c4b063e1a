// The review desk's only script (served as a static file: the CSP allows no inline script).
// Grading an answer: number keys toggle criteria, j/k or the arrow keys move between
// students, every change is saved as it is made (a crash or a closed tab loses nothing), and a
// save made from a stale page (another tab, another session) is refused by the server and
// said so here, never silently overwritten.
"use strict";

(function () {
  const csrf = document.body.dataset.csrf;
  const tab = Math.random().toString(36).slice(2);

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "X-CSRF-Token": csrf,
        "X-Review-Tab": tab,
      },
      body: JSON.stringify(body),
    });
    let data = {};
    try {
      data = await response.json();
    } catch (e) {
      data = { error: "the server answered " + response.status };
    }
    return { status: response.status, data: data };
  }

  function typing(target) {
    return target instanceof HTMLTextAreaElement ||
      (target instanceof HTMLInputElement && target.type !== "checkbox") ||
      target instanceof HTMLSelectElement;
  }

  // --- one answer: /q/<item>?s=<student> -----------------------------------------------------
  const form = document.getElementById("grade");
  if (form) {
    const points = document.getElementById("points");
    const comment = document.getElementById("comment");
    const version = document.getElementById("version");
    const status = document.getElementById("save-status");
    const boxes = Array.from(form.querySelectorAll("input[name=criteria]"));
    let pointsTyped = points.value !== "" && boxes.every((b) => !b.checked);
    let dirty = false;
    let timer = null;
    let saving = Promise.resolve(true);

    function say(text, error) {
      status.textContent = text;
      status.classList.toggle("error", Boolean(error));
    }

    function proposed() {
      const sum = boxes.filter((b) => b.checked)
        .reduce((total, b) => total + Number(b.dataset.points), 0);
      return Math.round(sum * 1e6) / 1e6;
    }

    function body() {
      return {
        student: form.elements.student.value,
        digest: form.elements.digest.value,
        version: Number(version.value),
        criteria: boxes.filter((b) => b.checked).map((b) => Number(b.value)),
        points: points.value,
        comment: comment.value,
      };
    }

    function save() {
      clearTimeout(timer);
      if (!dirty) return saving;
      if (points.value === "") {
        say("Give points (or tick criteria) to save.", true);
        return Promise.resolve(false);
      }
      dirty = false;
      say("Saving…");
      saving = saving.then(() => post(form.action, body())).then(({ status: code, data }) => {
        if (code === 200) {
          version.value = data.version;
          say("Saved.");
          return true;
        }
        dirty = code !== 409;
        say(code === 409 ? "Not saved: " + data.error : "Not saved: " + (data.error || code), true);
        return false;
      }, () => {
        dirty = true;
        say("Not saved: the review desk cannot be reached.", true);
        return false;
      });
      return saving;
    }

    function changed() {
      dirty = true;
      say("Unsaved changes…");
      clearTimeout(timer);
      timer = setTimeout(save, 400);
    }

    boxes.forEach((box) => box.addEventListener("change", () => {
      if (!pointsTyped) points.value = proposed();
      changed();
    }));
    points.addEventListener("input", () => { pointsTyped = true; changed(); });
    comment.addEventListener("input", changed);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      dirty = true;
      save().then((ok) => { if (ok && form.dataset.next) location.assign(form.dataset.next); });
    });

    function go(where) {
      if (!where) return;
      save().then((ok) => { if (ok !== false || !dirty) location.assign(where); });
    }

    document.addEventListener("keydown", (event) => {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      if (event.key === "Escape") { document.activeElement.blur(); return; }
      if (typing(event.target)) return;
      if (event.key === "j" || event.key === "ArrowRight") { event.preventDefault(); go(form.dataset.next); }
      else if (event.key === "k" || event.key === "ArrowLeft") { event.preventDefault(); go(form.dataset.previous); }
      else if (event.key === "p") { event.preventDefault(); points.focus(); points.select(); }
      else if (event.key === "c") { event.preventDefault(); comment.focus(); }
      else if (/^[1-9]$/.test(event.key)) {
        const box = boxes[Number(event.key) - 1];
        if (box) {
          event.preventDefault();
          box.checked = !box.checked;
          box.dispatchEvent(new Event("change"));
        }
      }
    });

    // A tab closed with a change not yet sent still sends it.
    window.addEventListener("pagehide", () => {
      if (!dirty || points.value === "") return;
      const payload = Object.assign(body(), { csrf: csrf });
      navigator.sendBeacon(form.action, new Blob([JSON.stringify(payload)], { type: "application/json" }));
    });
  }

  // --- overrides on a submission's page ------------------------------------------------------
  document.querySelectorAll("form.override").forEach((override) => {
    override.addEventListener("submit", (event) => {
      event.preventDefault();
      const clear = event.submitter && event.submitter.name === "clear";
      post(override.action, {
        check: override.elements.check.value,
        version: Number(override.elements.version.value),
        score: override.elements.score.value,
        reason: override.elements.reason.value,
        clear: clear,
      }).then(({ status: code, data }) => {
        if (code === 200) { location.reload(); return; }
        let note = override.querySelector(".status");
        if (!note) {
          note = document.createElement("span");
          note.className = "status error";
          override.appendChild(note);
        }
        note.textContent = "Not saved: " + (data.error || code);
      });
    });
  });
})();
