# Reference values for app/stats.test.ts, computed with scipy (1.17.1), numpy (2.4.6) and
# statsmodels (0.15.0). Re-run with `python3 app/stats.reference.py` and paste its output over the
# REF literal in app/stats.test.ts; the test itself does not need python.
import json

import numpy as np
import scipy
from scipy import stats
from statsmodels.stats.multitest import multipletests

out = {"versions": {"scipy": scipy.__version__, "numpy": np.__version__}}

# Student-t 0.975 quantiles for df = 1..29 (N = 2..30), plus a few other p and df.
out["t975"] = [float(stats.t.ppf(0.975, df)) for df in range(1, 30)]
out["tOther"] = [
    [p, df, float(stats.t.ppf(p, df))]
    for p, df in [(0.995, 2), (0.9, 7), (0.025, 4), (0.5, 3), (0.999, 100), (0.975, 1000)]
]

# summarize: mean, sd (ddof=1), t interval at 95%.
SUMMARY = {
    "four": [0.5, 0.6, 0.7, 0.8],
    "three": [0.91, 0.87, 0.95],
    "two": [0.1, 0.2],
    "ten": [0.71, 0.68, 0.74, 0.69, 0.77, 0.72, 0.70, 0.66, 0.75, 0.73],
}
out["summary"] = {}
for name, v in SUMMARY.items():
    x = np.array(v)
    m, sd = x.mean(), x.std(ddof=1)
    lo, hi = stats.t.interval(0.95, len(x) - 1, loc=m, scale=stats.sem(x))
    out["summary"][name] = {
        "values": v,
        "mean": float(m),
        "sd": float(sd),
        "low": float(lo),
        "high": float(hi),
        "ci95": float(stats.t.ppf(0.975, len(x) - 1) * sd / np.sqrt(len(x))),
    }

rng = np.random.default_rng(20250717)
# n = 30 and n = 60 pairs, rounded to 2 decimals so that |a - b| has ties; n = 30 with 6 decimals
# (no ties, exact Wilcoxon).
a30 = np.round(rng.normal(0.6, 0.1, 30), 2)
b30 = np.round(a30 - rng.normal(0.03, 0.05, 30), 2)
a30u = np.round(rng.normal(0.6, 0.1, 30), 6)
b30u = np.round(a30u - rng.normal(0.01, 0.05, 30), 6)
a60 = np.round(rng.normal(0.5, 0.1, 60), 6)
b60 = np.round(a60 - rng.normal(0.02, 0.08, 60), 6)

PAIRED = {
    # n = 5, no ties, no zeros: exact Wilcoxon
    "n5exact": ([0.62, 0.71, 0.55, 0.80, 0.66], [0.50, 0.74, 0.41, 0.60, 0.58]),
    # n = 6, all differences positive: smallest exact p (2 / 2^6)
    "n6allpos": ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [0.5, 1.25, 2.0, 2.75, 3.5, 4.25]),
    # n = 8 with tied |differences| (integers): normal approximation with tie correction
    "n8ties": ([5, 7, 6, 9, 4, 8, 6, 7], [3, 5, 7, 6, 4 - 2, 8 - 1, 7, 4]),
    # n = 10 with two zero differences, dropped ('wilcox'); ties too
    "n10zeros": (
        [10, 12, 11, 14, 13, 10, 15, 12, 11, 13],
        [10, 11, 13, 11, 13, 8, 11, 12, 14, 9],
    ),
    "n30ties": (a30.tolist(), b30.tolist()),
    "n30exact": (a30u.tolist(), b30u.tolist()),
    "n60approx": (a60.tolist(), b60.tolist()),
}
out["paired"] = {}
for name, (a, b) in PAIRED.items():
    a, b = np.array(a, dtype=float), np.array(b, dtype=float)
    d = a - b
    tt = stats.ttest_rel(a, b)
    ci = tt.confidence_interval(0.95)
    nz = d[d != 0]
    has_ties = len(np.unique(np.abs(nz))) < len(nz)
    has_zeros = len(nz) < len(d)
    if len(d) <= 50 and not has_ties and not has_zeros:
        w = stats.wilcoxon(a, b, method="exact")
        method = "exact"
    else:
        # our choice: normal approximation with tie and continuity correction
        w = stats.wilcoxon(a, b, method="asymptotic", correction=True)
        method = "approx"
    out["paired"][name] = {
        "a": a.tolist(),
        "b": b.tolist(),
        "meanDiff": float(d.mean()),
        "sdDiff": float(d.std(ddof=1)),
        "t": float(tt.statistic),
        "df": float(tt.df),
        "p": float(tt.pvalue),
        "low": float(ci.low),
        "high": float(ci.high),
        "wilcoxon": {
            "statistic": float(w.statistic),
            "p": float(w.pvalue),
            "method": method,
            "nUsed": int(len(nz)),
            "zeros": int(len(d) - len(nz)),
        },
    }

HOLM = [0.01, 0.04, 0.03, 0.005, 0.2, 0.04, 0.5, 0.0001, 0.9, 0.03]
out["holm"] = {"p": HOLM, "adjusted": multipletests(HOLM, method="holm")[1].tolist()}

print(json.dumps(out, indent=1))
