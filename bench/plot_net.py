#!/usr/bin/env python3
"""Draws bench/out/network.csv: frames shown intact and the longest freeze per condition."""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

rows = list(csv.DictReader(open(sys.argv[1])))
names = [r["condition"] for r in rows]
fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
left.barh(names, [float(r["decoded_fps"]) for r in rows], color="#c8d6e5", label="decoded")
left.barh(names, [float(r["intact_fps"]) for r in rows], color="#2e86de", label="shown intact (QR read)")
left.axvline(30, color="grey", linestyle=":")
left.set_xlabel("frames per second")
left.invert_yaxis()
left.legend(loc="lower right")
right.barh(names, [float(r["longest_freeze_ms"]) for r in rows], color="#ee5253")
right.set_xscale("log")
right.set_xlabel("longest freeze (ms, log)")
right.invert_yaxis()
right.set_yticklabels([])
fig.suptitle("roombox, 720p30 at 2 Mbit/s, impairments both ways")
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=100)
