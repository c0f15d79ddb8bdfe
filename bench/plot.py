#!/usr/bin/env python3
"""Draws the latency distributions of bench/out/samples.csv (cumulative, per setup and size)."""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

samples, out = sys.argv[1], sys.argv[2]
series = defaultdict(list)
with open(samples) as f:
    for row in csv.DictReader(f):
        series[(row["kind"], row["setup"], row["size"])].append(float(row["ms"]))

fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
for ax, kind, title in [(axes[0], "video", "Glass-to-glass video (QR)"), (axes[1], "audio", "Mouth-to-ear audio (RTCP reference time)")]:
    for (k, setup, size), values in sorted(series.items()):
        if k != kind or not values:
            continue
        values.sort()
        ys = [(i + 1) / len(values) for i in range(len(values))]
        ax.plot(values, ys, label=f"{setup} {size} (median {values[len(values) // 2]:.1f} ms)",
                linestyle="-" if setup == "roombox" else "--")
    ax.set_title(title)
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("fraction of frames / buffers")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(out, dpi=110)
