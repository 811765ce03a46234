/** Visitors and pageviews over time, drawn by uPlot; one x step per bucket (day, week or month). */
import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import { formatBucket, type Interval } from "../dates.ts";
import { formatCompact, formatCount, formatExact } from "../format.ts";

export interface Series {
  label: string;
  values: number[];
  color: string;
  fill?: string;
}

const Y_STEPS: number[] = [];
for (let p = 1; p <= 1e9; p *= 10) Y_STEPS.push(p, 2 * p, 5 * p);
const X_STEPS = [1, 2, 3, 4, 5, 6, 7, 10, 14, 15, 20, 30, 50, 100, 200, 500];
const FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

const shortLabel = (day: string, interval: Interval): string => (interval === "week" ? formatBucket(day, "day") : formatBucket(day, interval));

export function Chart(props: { buckets: string[]; series: Series[]; interval: Interval; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const [hover, setHover] = useState<number | null>(null);

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const { buckets, series, interval } = props;
    const n = buckets.length;
    const xs = buckets.map((_, i) => i);
    const opts: uPlot.Options = {
      width: Math.max(el.clientWidth, 200),
      height: props.height ?? 260,
      padding: [12, 20, 0, 4],
      cursor: { drag: { x: false, y: false }, points: { size: 8 } },
      legend: { show: false },
      hooks: { setCursor: [(u) => setHover(u.cursor.idx ?? null)] },
      scales: {
        // few buckets (weeks, months): half a step of air on each side, so the end labels fit
        x: { time: false, range: (_u, min, max) => (n <= 1 ? [min - 0.5, max + 0.5] : n <= 16 ? [min - 0.35, max + 0.35] : [min, max]) },
        y: { range: (_u, _min, max) => [0, max > 0 ? Math.ceil(max * 1.15) : 4] },
      },
      series: [
        {},
        ...series.map(
          (s): uPlot.Series => ({
            label: s.label,
            stroke: s.color,
            width: 2,
            ...(s.fill ? { fill: s.fill } : {}),
            points: { show: n <= 45 && s.values.some((v) => v > 0), size: 5, fill: "#fff" },
          }),
        ),
      ],
      axes: [
        {
          stroke: "#6b7280",
          font: FONT,
          size: 30,
          gap: 6,
          grid: { show: false },
          ticks: { show: false },
          space: interval === "week" ? 70 : 56,
          incrs: X_STEPS,
          values: (_u, splits) => splits.map((i) => (Number.isInteger(i) && buckets[i] ? shortLabel(buckets[i], interval) : "")),
        },
        {
          stroke: "#6b7280",
          font: FONT,
          size: 48,
          grid: { stroke: "#eef0f3", width: 1 },
          ticks: { show: false },
          incrs: Y_STEPS,
          values: (_u, splits) => splits.map((v) => (Math.max(...splits) >= 1000 ? formatCompact(v) : formatCount(v))),
        },
      ],
    };
    const plot = new uPlot(opts, [xs, ...series.map((s) => s.values)], el);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(el.clientWidth, 200), height: props.height ?? 260 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
      setHover(null);
    };
  }, [props.buckets, props.series, props.interval, props.height]);

  const total = (s: Series): number => s.values.reduce((a, b) => a + b, 0);
  const summary = props.series.map((s) => `${formatExact(total(s))} ${s.label.toLowerCase()}`).join(", ");
  const at = hover !== null && props.buckets[hover] ? hover : null;
  return (
    <>
      <div class="chart-legend">
        <ul aria-hidden="true">
          {props.series.map((s) => (
            <li key={s.label}>
              <span class="swatch" style={{ background: s.color }} />
              {s.label}
            </li>
          ))}
        </ul>
        <p class="chart-readout" aria-hidden="true">
          {at !== null ? (
            <>
              <strong>{formatBucket(props.buckets[at]!, props.interval)}</strong>
              {props.series.map((s) => (
                <span key={s.label}>
                  {" · "}
                  {formatExact(s.values[at] ?? 0)} {s.label.toLowerCase()}
                </span>
              ))}
            </>
          ) : (
            <span class="muted">Point at the chart for the numbers of a {props.interval}</span>
          )}
        </p>
      </div>
      <div
        class="chart"
        ref={box}
        role="img"
        aria-label={`${props.series.map((s) => s.label).join(" and ")} per ${props.interval}, ${formatBucket(props.buckets[0] ?? "", props.interval)} to ${formatBucket(props.buckets[props.buckets.length - 1] ?? "", props.interval)}: ${summary}.`}
      />
      <div class="sr-only">
        <table>
          <caption>{props.series.map((s) => s.label).join(" and ")} per {props.interval}</caption>
          <thead>
            <tr>
              <th scope="col">{props.interval}</th>
              {props.series.map((s) => (
                <th key={s.label} scope="col">
                  {s.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {props.buckets.map((b, i) => (
              <tr key={b}>
                <th scope="row">{formatBucket(b, props.interval)}</th>
                {props.series.map((s) => (
                  <td key={s.label}>{s.values[i] ?? 0}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
