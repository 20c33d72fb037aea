import { describe, expect, it } from "vitest";
import { renderSparklineSvg } from "./sparkline.js";

const sample = (tMs: number, memoryBytes: number, cpu: number) => ({ tMs, memoryBytes, cpu, pids: 1 });

describe("renderSparklineSvg", () => {
  it("draws memory and CPU over time inside the box, with an accessible summary", () => {
    const svg = renderSparklineSvg(
      [sample(0, 0, 0), sample(1000, 512 * 1024 ** 2, 1), sample(2000, 256 * 1024 ** 2, 0.5)],
      { width: 100, height: 20, cpus: 1, axes: false },
    );
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" width="100" height="20"')).toBe(true);
    expect(svg).toContain("memory (blue) peak 512 MiB, CPU (red) peak 1.00 cores, over 2 s");
    const lines = [...svg.matchAll(/<polyline points="([^"]+)"/g)].map((m) => m[1]!.split(" "));
    expect(lines).toHaveLength(2);
    for (const points of lines) {
      expect(points).toHaveLength(3);
      for (const point of points) {
        const [x, y] = point.split(",").map(Number);
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThanOrEqual(100);
        expect(y).toBeGreaterThanOrEqual(0);
        expect(y).toBeLessThanOrEqual(20);
      }
    }
    // The memory peak touches the top; the CPU line at 1 of 1 core does too.
    expect(lines[0]![1]).toBe("50,1");
    expect(lines[1]![1]).toBe("50,1");
  });

  it("scales memory to the limit when given, and says so when there is too little to draw", () => {
    const svg = renderSparklineSvg([sample(0, 0, 0), sample(1000, 50, 0)], {
      height: 22,
      memoryLimitBytes: 100,
      axes: false,
    });
    expect(svg).toMatch(/<polyline points="1,21 239,11"/);
    expect(renderSparklineSvg([])).toContain("too short to chart");
    expect(renderSparklineSvg([])).toContain('aria-label="no resource samples"');
  });

  it("labels its scales: memory and cores at the top, the run's start and end below, the chart between", () => {
    const svg = renderSparklineSvg([sample(0, 0, 0), sample(90_000, 512 * 1024 ** 2, 2)], {
      width: 200,
      height: 60,
      memoryLimitBytes: 1024 ** 3,
      cpus: 2,
    });
    expect(svg).toContain(">memory, top 1.0 GiB</text>");
    expect(svg).toContain(">CPU, top 2 cores</text>");
    expect(svg).toContain(">0 s</text>");
    expect(svg).toContain(">1m30s</text>");
    const ys = [...svg.matchAll(/<polyline points="([^"]+)"/g)].flatMap((m) =>
      m[1]!.split(" ").map((point) => Number(point.split(",")[1])),
    );
    for (const y of ys) {
      expect(y).toBeGreaterThanOrEqual(11);
      expect(y).toBeLessThanOrEqual(49);
    }
  });
});
