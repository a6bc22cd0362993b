// uPlot wrappers: one line chart per figure, sized to its container, series overlaid on
// one x axis (uPlot.join aligns series that were sampled at different x values).

// x is a batch or epoch number: ticks only on whole numbers
const INTEGER_STEPS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000, 500000];

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2"];

export function color(i) {
  return COLORS[i % COLORS.length];
}

export class LineChart {
  // `series`: [{label, dash?}], one per y column; `xLabel` names the x axis.
  constructor(container, { title, xLabel, series, height = 220 }) {
    this.container = container;
    this.labels = series;
    const width = Math.max(container.clientWidth || 0, 320);
    this.plot = new uPlot(
      {
        title,
        width,
        height,
        scales: { x: { time: false } },
        axes: [{ label: xLabel, incrs: INTEGER_STEPS }, {}],
        series: [
          { label: xLabel },
          ...series.map((s, i) => ({
            label: s.label,
            stroke: s.color || color(i),
            width: 1.5,
            dash: s.dash,
            spanGaps: true,
            points: { show: false },
          })),
        ],
      },
      [[], ...series.map(() => [])],
      container,
    );
    this.resize = () => this.plot.setSize({ width: Math.max(container.clientWidth, 320), height });
    window.addEventListener("resize", this.resize);
  }

  // `tables`: one [xs, ys] per series; they are joined on x.
  setSeries(tables) {
    this.setData(tables.length ? uPlot.join(tables) : [[], ...this.labels.map(() => [])]);
  }

  // Same x for every series: [xs, ys1, ys2, ...].
  setData(data) {
    this.plot.setData(data);
    // what is drawn, readable from the page (tests, and anyone inspecting the DOM)
    this.container.dataset.points = String(data[0].length);
    this.container.dataset.series = String(data.slice(1).filter((ys) => ys.some((y) => y != null)).length);
  }

  get points() {
    return this.plot.data[0].length;
  }

  destroy() {
    window.removeEventListener("resize", this.resize);
    this.plot.destroy();
  }
}
