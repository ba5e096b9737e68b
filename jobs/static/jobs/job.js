// The job page follows a queued or running job without a reload, and shows its report (a reload)
// once it has finished. Without JavaScript, the page's Refresh link does the same by hand.
(function () {
  const box = document.getElementById("pt-job-progress");
  if (!box) return;
  const bar = document.getElementById("pt-progress-bar");
  const text = document.getElementById("pt-progress-text");
  const status = document.getElementById("pt-job-status");
  const labels = { queued: "waiting for the worker", running: "running" };

  function seconds(value) {
    return Math.round(value) + " s";
  }

  function show(state) {
    if (!(state.status in labels)) {
      window.location.reload(); // finished: the page shows the report
      return;
    }
    status.textContent = labels[state.status];
    if (state.total) {
      bar.max = state.total;
      bar.value = state.done;
    }
    let line = state.total ? state.done + " of " + state.total + " rows" : state.done ? state.done + " rows" : "Starting";
    if (state.elapsed_seconds) line += ", " + seconds(state.elapsed_seconds) + " so far";
    if (state.left_seconds !== null) line += ", about " + seconds(state.left_seconds) + " left";
    text.textContent = line + ".";
    setTimeout(poll, 1000);
  }

  function poll() {
    fetch(box.dataset.url, { credentials: "same-origin" })
      .then((response) => response.json())
      .then(show)
      .catch(() => setTimeout(poll, 3000));
  }

  setTimeout(poll, 1000);
})();
