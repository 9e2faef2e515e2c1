"""``handloop zoo``: list the pretrained entries, or summarise one entry's networks."""

from __future__ import annotations

import argparse

HELP = "list pretrained zoo entries (list) or show one entry's networks (summary NAME)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = sub.add_parser("list", help="entries with their measured accuracy and size")
    listing.add_argument("--json", action="store_true", help="print as JSON")
    summary = sub.add_parser("summary", help="each network's input/output shapes and parameter count")
    summary.add_argument("name", help="entry name or card path")


def run(args: argparse.Namespace):
    from handloop.zoo.registry import find_entry, list_entries

    if args.action == "list":
        rows = [{"name": e.name, "size": e.config.size, "joints": e.config.joint_set, "object": e.config.object,
                 "iterations": e.config.iterations, "size_mb": round(e.size_mb, 2), **e.metrics}
                for e in list_entries()]
        if args.json:
            return rows
        if rows:
            import pandas as pd

            print(pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:.2f}", na_rep="-"))
        else:
            print("no zoo entries are shipped yet")
        return 0
    from handloop.zoo.loops import network_names
    from handloop.zoo.registry import build_loop

    loop, config = build_loop(find_entry(args.name))
    for name in network_names(config):
        net = loop.get_layer(name)
        print(f"{name:16s} in {str(net.input_shape):22s} out {str(net.output_shape):22s} "
              f"{net.count_params():>10,d} parameters")
    print(f"{'loop':16s} {loop.count_params():,d} parameters")
    return 0
