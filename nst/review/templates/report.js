// The report's only script: no network, no library. Sorting the summary, and the side-by-side view.
"use strict";

// Summary: click a heading to sort by that column (numbers as numbers, blanks last); again to reverse.
document.querySelectorAll("table.sortable").forEach((table) => {
  const headings = [...table.tHead.rows[0].cells];
  headings.forEach((heading, column) => {
    heading.querySelector("button").addEventListener("click", () => {
      const ascending = heading.getAttribute("aria-sort") !== "ascending";
      headings.forEach((other) => other.removeAttribute("aria-sort"));
      heading.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      const body = table.tBodies[0];
      const key = (row) => row.cells[column].textContent.trim();
      const rows = [...body.rows];
      const numeric = rows.every((row) => key(row) === "" || !Number.isNaN(Number(key(row))));
      rows.sort((a, b) => {
        const x = key(a), y = key(b);
        if (x === "" || y === "") return (x === "") - (y === "");  // blanks last either way
        const order = numeric ? Number(x) - Number(y) : x.localeCompare(y, undefined, {numeric: true});
        return ascending ? order : -order;
      });
      body.append(...rows);
    });
  });
});

// Side by side: A over B at the same size; the slider moves the edge where A ends.
const compare = document.getElementById("compare");
if (compare) {
  const clip = document.getElementById("compare-clip");
  const imageA = document.getElementById("compare-image-a");
  const imageB = document.getElementById("compare-image-b");
  const slider = document.getElementById("compare-slider");
  const fit = () => { imageA.style.width = imageB.clientWidth + "px"; imageA.style.height = imageB.clientHeight + "px"; };
  const move = () => { clip.style.width = slider.value + "%"; };
  imageB.addEventListener("load", fit);
  window.addEventListener("resize", fit);
  slider.addEventListener("input", move);
  document.getElementById("compare-a").addEventListener("change", (event) => { imageA.src = event.target.value; });
  document.getElementById("compare-b").addEventListener("change", (event) => { imageB.src = event.target.value; });
  if (imageB.complete) fit();
  move();
}
