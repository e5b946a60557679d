"""An HTML report of the evaluation history, with PNG plots (matplotlib)."""

from __future__ import annotations

import html
from pathlib import Path

from app.evaluation.history import Run
from app.evaluation.outcomes import Outcome, trade_off


def _plot_history(runs: list[Run], target: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    for name in sorted({r.questions for r in runs}):
        mine = [r for r in runs if r.questions == name]
        ax.plot([r.id for r in mine], [r.summary["answer_rate"] for r in mine], marker="o", label=Path(name).name)
    ax.axhline(target, color="red", linestyle="--", label=f"target {target:.0%}")
    ax.set_xlabel("evaluation run")
    ax.set_ylabel("answer rate")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Answer rate per run")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_trade_off(run: Run, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = run.outcome_records()
    points = trade_off(records)
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.plot([p.false_answer_rate for p in points], [p.answer_rate for p in points], marker=".")
    # A run over HTTP may not say its threshold: then no dot rather than a guessed one.
    if run.threshold is not None:
        (current,) = trade_off(records, [run.threshold])
        ax.scatter(
            [current.false_answer_rate],
            [current.answer_rate],
            color="red",
            zorder=3,
            s=60,
            label=f"threshold {run.threshold:.3f}",
        )
        ax.legend(loc="lower right")
    ax.set_xlabel("false-answer rate (unanswerable questions answered)")
    ax.set_ylabel("answer rate (answerable questions answered correctly)")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"Abstention trade-off, run {run.id}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


_MISSES = {Outcome.WRONG.value, Outcome.FALSE_ABSTENTION.value, Outcome.FALSE_ANSWER.value}


def write_report(runs: list[Run], out_dir: Path, target: float = 0.9) -> Path:
    """Writes ``index.html`` and its PNGs into ``out_dir``; returns the HTML path."""
    if not runs:
        raise ValueError("no evaluation runs yet: run `troly eval` first")
    out_dir.mkdir(parents=True, exist_ok=True)
    latest = runs[-1]
    _plot_history(runs, target, out_dir / "answer_rate.png")
    _plot_trade_off(latest, out_dir / "trade_off.png")
    e = html.escape
    s = latest.summary
    rows = "".join(
        f"<tr><td>{r.id}</td><td>{e(r.created_at)}</td><td>{e(Path(r.questions).name)}</td>"
        f"<td>{r.summary['answer_rate']:.1%}</td><td>{r.summary['false_answer_rate']:.1%}</td>"
        f"<td>{r.summary['recall_at_1']:.1%}</td><td>{r.summary['recall_at_5']:.1%}</td>"
        f"<td>{r.summary['latency_p50_ms']:.0f}</td><td>{e(str(r.target.get('embedder', '')))}</td></tr>"
        for r in runs
    )
    outcomes = "".join(f"<tr><td>{e(k)}</td><td>{v}</td></tr>" for k, v in s["outcomes"].items())
    misses = "".join(
        f"<tr><td>{e(m['outcome'])}</td><td>{e(m['question'])}</td><td>{e(' | '.join(m['answers']) or '—')}</td>"
        f"<td>{e(m['answer'] or '(abstained)')}</td><td>{m['confidence']:.2f}</td>"
        f"<td class=cited>{e(m['cited'] or '')}</td></tr>"
        for m in latest.records
        if m["outcome"] in _MISSES
    )
    status = "meets" if s["answer_rate"] >= target else "is below"
    # Runs stored before this figure existed do not have it.
    cited = ""
    if "cited_answer_rate" in s:
        cited = f" ({s['cited_answer_rate']:.1%} with the fact in the first citation too)"
    page = f"""<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>troly: evaluation report</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:1200px}}
table{{border-collapse:collapse;margin:1rem 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;vertical-align:top;font-size:14px}}td.cited{{max-width:420px;color:#444}}
.big{{font-size:1.4rem}}</style></head><body>
<h1>troly: evaluation report</h1>
<p class="big">Latest run {latest.id} ({e(latest.created_at)}) on <code>{e(latest.questions)}</code>:
answer rate <b>{s["answer_rate"]:.1%}</b>, which {status} the {target:.0%} target{cited};
false-answer rate {s["false_answer_rate"]:.1%} on {s["unanswerable"]} unanswerable questions.</p>
<h2>Outcomes (SQuAD 2.0)</h2><table><tr><th>outcome</th><th>count</th></tr>{outcomes}</table>
<p>Recall@1 {s["recall_at_1"]:.1%}, recall@5 {s["recall_at_5"]:.1%}, MRR {s["mrr"]:.3f};
latency p50 {s["latency_p50_ms"]:.0f} ms, p95 {s["latency_p95_ms"]:.0f} ms.</p>
<h2>Answer rate per run</h2><img src="answer_rate.png" alt="answer rate per run against the target">
<h2>Abstention trade-off</h2><img src="trade_off.png" alt="answer rate against false-answer rate">
<h2>All runs</h2><table><tr><th>run</th><th>time</th><th>questions</th><th>answer rate</th><th>false answers</th>
<th>R@1</th><th>R@5</th><th>p50 ms</th><th>embedder</th></tr>{rows}</table>
<h2>Misses in run {latest.id}</h2><table><tr><th>outcome</th><th>question</th><th>expected</th><th>answered</th>
<th>conf.</th><th>first cited passage</th></tr>{misses}</table>
</body></html>"""
    path = out_dir / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
