"""``handloop compare``: score community result files against labels and draw their max-frame curves."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "score result files (one frame per line, J x u v d) against a dataset's labels"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from handloop.zoo.published import PUBLISHED

    parser.add_argument("results", nargs="*", metavar="RESULT", help="result files; the method name is the file stem")
    parser.add_argument("--published", choices=sorted(PUBLISHED),
                        help="also score the published methods' result files of this benchmark, against its "
                             "published labels unless --labels is given (downloaded once, SHA-256 checked, into "
                             "published/ in the user cache, ~/.cache/handloop)")
    parser.add_argument("--dataset", help="evaluation protocol: nyu, icvl, msra or synth (default: --published's)")
    parser.add_argument("--labels", help="ground-truth file in the same format (default: --published's labels)")
    parser.add_argument("--plot", metavar="PNG", help="draw the fraction-of-frames (max error) curves here")
    parser.add_argument("--json", action="store_true", help="print the rows as a JSON list instead of a table")
    parser.add_argument("--force", action="store_true",
                        help="replace the --plot PNG if already there (refused otherwise)")


def compare(results: list[str], dataset: str, labels: str):
    """Scores each result file; returns (a pandas DataFrame with one row per method, {name: (F, J) errors in mm})."""
    import pandas as pd

    from handloop.zoo.metrics import summarize
    from handloop.zoo.resultfile import evaluate_file, get_benchmark, read_results

    benchmark = get_benchmark(dataset)
    labels_uvd = read_results(labels, benchmark.num_joints, what="label file")
    errors = {Path(r).stem: evaluate_file(r, labels_uvd, benchmark) for r in results}
    table = pd.DataFrame([{"name": name, **summarize(e)} for name, e in errors.items()])
    return table, errors


def plot_curves(errors: dict, path: str, title: str) -> None:
    """Draws the max-frame fraction curves (0-80 mm) of each method into a PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from handloop.zoo.draw import save_figure
    from handloop.zoo.metrics import THRESHOLDS_MM, fraction_curve, mean_error

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for name, e in errors.items():
        ax.plot(THRESHOLDS_MM, 100 * fraction_curve(e, "max"), label=f"{name} ({mean_error(e):.2f} mm)")
    ax.set_xlabel("maximum allowed distance to ground truth (mm)")
    ax.set_ylabel("fraction of frames within distance (%)")
    ax.set_xlim(0, 80)
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title)
    save_figure(fig, path)


def run(args: argparse.Namespace):
    from handloop.zoo.fileio import refuse_existing

    refuse_existing(args.plot, force=args.force)
    results, dataset, labels = list(args.results), args.dataset or args.published, args.labels
    if args.published:
        from handloop.zoo.published import fetch

        published_labels, published_results = fetch(args.published)
        results += [str(p) for p in published_results]
        labels = labels or str(published_labels)
    if not results or not labels or not dataset:
        raise ValueError("give result files with --dataset and --labels, or --published BENCHMARK")
    table, errors = compare(results, dataset, labels)
    if args.plot:
        plot_curves(errors, args.plot, f"{dataset}: max joint error per frame")
        print(f"wrote {args.plot}")
    if args.json:
        keys = ["name", "mean_mm", "median_mm", "frac_max_20", "frac_max_30", "frac_max_40"]
        return table[keys].to_dict(orient="records")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    return 0
