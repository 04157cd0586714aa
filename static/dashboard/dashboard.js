// Progressive enhancement only: every page works without this file.
// A select in a form marked data-autosubmit submits its form when changed.
document.querySelectorAll("form[data-autosubmit] select").forEach((select) => {
  select.addEventListener("change", () => select.form.submit());
});
