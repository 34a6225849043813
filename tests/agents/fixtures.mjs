// Deterministic series for the tests and the checkers' cases: no randomness
// from the run, so a failure reproduces.

// A small linear congruential generator (Numerical Recipes constants):
// reproducible noise without depending on the agents' generator.
function lcg(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(1664525, s) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

// Trend + daily season (period 24) + uniform noise, one feature, as rows
// [[y0], [y1], ...]; spikes of +magnitude at the given rows.
export function seasonalSeries({ n = 240, spikes = [], magnitude = 8, seed = 7 } = {}) {
  const rnd = lcg(seed);
  const rows = [];
  for (let t = 0; t < n; t++) {
    let y = 10 + 0.02 * t + 2 * Math.sin((2 * Math.PI * t) / 24) + 0.3 * (rnd() - 0.5);
    if (spikes.includes(t)) y += magnitude;
    rows.push([Number(y.toFixed(6))]);
  }
  return rows;
}

export const SPIKES = [60, 150, 200];

export const labelsFor = (n, idx) => Array.from({ length: n }, (_, t) => (idx.includes(t) ? 1 : 0));
