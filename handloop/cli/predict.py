"""``handloop predict``: the pose of the hand in one depth file, printed or drawn."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = "estimate the hand pose in a depth file (.png, NYU .png, .npy in mm, MSRA .bin)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="zoo entry name or path to an entry's .json card")
    parser.add_argument("depth", help="depth file")
    parser.add_argument("--intrinsics", default="synth",
                        help="nyu, icvl, msra, synth or FX,FY,CX,CY (default synth); with nyu, NYU's 3-channel PNGs are "
                             "read as depth")
    parser.add_argument("--json", action="store_true", help="print joints as JSON")
    parser.add_argument("--overlay", metavar="PNG", help="draw the joints on the depth image")
    parser.add_argument("--truth", metavar="JSON",
                        help="true joints: the frames.json of handloop data frames (or {\"joints_xyz\": [...]} in "
                             "camera mm); the overlay then draws them dashed and the error is printed")
    parser.add_argument("--force", action="store_true",
                        help="replace the --overlay PNG if already there (refused otherwise)")


def run(args: argparse.Namespace):
    import handloop
    from handloop.zoo.camera import get_intrinsics
    from handloop.zoo.depthio import read_depth
    from handloop.zoo.fileio import refuse_existing
    from handloop.zoo.joints import get_joint_set
    from handloop.zoo.preprocess import NoHandError

    refuse_existing(args.overlay, force=args.force)
    depth = read_depth(args.depth, nyu_rgb=args.intrinsics.strip().lower() == "nyu")
    model = handloop.load(args.name)
    camera = get_intrinsics(args.intrinsics, model.config.width, model.config.height)
    truth = None
    if args.truth:
        from handloop.recipes.frames import read_truth
        from handloop.zoo.metrics import joint_errors

        truth = read_truth(args.truth, args.depth, model.config.joint_set)
    try:
        result = model.predict(depth, camera)
    except NoHandError as error:
        raise NoHandError(error.reason, args.depth) from None
    if truth is not None:
        errors = joint_errors(result.joints_xyz[None], truth[None])[0]
    if args.overlay:
        from handloop.zoo.overlays import draw_prediction

        draw_prediction(depth, result, args.overlay, camera, model.config.cube_mm, name=model.name, truth_xyz=truth,
                        source=Path(args.depth).name)
        print(f"wrote {args.overlay}")
    if args.json:
        document = result.to_json()
        if truth is not None:
            document.update(error_mm={"mean": round(float(errors.mean()), 2), "max": round(float(errors.max()), 2)})
        return document
    if truth is not None:
        print(f"error against {args.truth}: {errors.mean():.1f} mm mean, {errors.max():.1f} mm max over the joints")
    joint_set = get_joint_set(result.joint_set)
    for name, (x, y, z), (u, v, _) in zip(joint_set.joints, result.joints_xyz, result.joints_uvd):
        print(f"{name:12s} x {x:8.1f}  y {y:8.1f}  z {z:8.1f} mm   u {u:6.1f}  v {v:6.1f} px")
    if result.object_rotation is not None:
        x, y, z = result.object_translation
        print(f"{'object':12s} x {x:8.1f}  y {y:8.1f}  z {z:8.1f} mm   rotation "
              f"{json.dumps(result.object_rotation.round(4).tolist())}")
    return 0
