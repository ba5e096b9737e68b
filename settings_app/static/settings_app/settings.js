// Tabs are progressive: without JavaScript every panel shows, one below the other.
(function () {
  const links = document.querySelectorAll(".pt-tabs a");
  const panels = document.querySelectorAll(".pt-panel");
  document.body.classList.add("pt-js");
  function show(id) {
    panels.forEach(p => { p.hidden = p.id !== id; });
    links.forEach(a => a.setAttribute("aria-selected", a.getAttribute("href") === "#" + id ? "true" : "false"));
  }
  links.forEach(a => a.addEventListener("click", e => { e.preventDefault(); show(a.getAttribute("aria-controls")); }));
  const withError = document.querySelector(".pt-panel .errors");
  show(withError ? withError.closest(".pt-panel").id : panels[0].id);

  // The preview follows the inputs as the person types (same formula as the server's).
  const price = document.getElementById("id_petrol_price_p_per_litre");
  const mpg = document.getElementById("id_petrol_mpg");
  const efficiency = document.getElementById("id_default_efficiency_mpkwh");
  function update() {
    const ppm = parseFloat(price.value) * 4.54609 / parseFloat(mpg.value);
    if (!isFinite(ppm) || ppm <= 0) return;
    document.getElementById("pt-petrol-ppm").textContent = ppm.toFixed(2);
    const pkwh = ppm * parseFloat(efficiency.value);
    if (!isFinite(pkwh)) return;
    document.getElementById("pt-pkwh").textContent = pkwh.toFixed(1);
    document.getElementById("pt-default-efficiency").textContent = parseFloat(efficiency.value).toFixed(1);
  }
  [price, mpg, efficiency].forEach(input => input && input.addEventListener("input", update));
})();
