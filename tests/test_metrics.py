import json

import numpy as np
import pytest

from handloop.cli import main
from handloop.zoo.joints import MSRA21, TIPS
from handloop.zoo.metrics import fraction_curve, hand_object_error, joint_errors, per_joint_error, summarize
from handloop.zoo.resultfile import evaluate_file, get_benchmark, read_results, write_results

PUBLISHED_MEANS = {
    "ICCVW17_NYU_DeepPrior++": (12.24, 0.447),
    "ICCV15_NYU_Feedback": (15.97, None),
    "TPAMI19_NYU_Generalized_Feedback": (10.89, 0.448),
}


@pytest.fixture(scope="module")
def nyu_labels(published):
    return read_results(published / "nyu_test_groundtruth_label.txt", 14)


@pytest.mark.parametrize("name", sorted(PUBLISHED_MEANS))
def test_published_nyu_numbers(published, nyu_labels, name):
    mean, frac20 = PUBLISHED_MEANS[name]
    errors = evaluate_file(published / f"{name}.txt", nyu_labels, get_benchmark("nyu"))
    row = summarize(errors)
    assert row["mean_mm"] == pytest.approx(mean, abs=0.01)
    if frac20 is not None:
        assert row["frac_max_20"] == pytest.approx(frac20, abs=0.001)


def test_curves_and_per_joint():
    errors = np.array([[1.0, 5.0], [10.0, 30.0]])
    assert np.allclose(fraction_curve(errors, "max", [4, 5, 30]), [0, 0.5, 1])
    assert np.allclose(fraction_curve(errors, "mean", [3, 20]), [0.5, 1])
    assert np.allclose(fraction_curve(errors, "joint", [5]), [0.5])
    assert np.allclose(per_joint_error(errors), [5.5, 17.5])
    with pytest.raises(ValueError, match="curve kind"):
        fraction_curve(errors, "median")
    with pytest.raises(ValueError, match="differ in shape"):
        joint_errors(np.zeros((2, 3, 3)), np.zeros((2, 4, 3)))


def test_hand_object_error_eq23():
    tips_gt = np.zeros((2, 5, 3))
    tips_pred = tips_gt + [3.0, 4.0, 0.0]  # 5 mm each
    corners_gt = np.zeros((2, 3, 3))
    corners_pred = corners_gt + [0.0, 0.0, 10.0]  # 10 mm each
    tips_vis = np.array([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1]], bool)
    corners_vis = np.array([[1, 1, 1], [1, 0, 1]], bool)
    e = hand_object_error(tips_pred, tips_gt, tips_vis, corners_pred, corners_gt, corners_vis)
    # frame 0: (2 * 5 + 3/3 * 30) / (2 + 3) = 8; frame 1: object not counted, (5 * 5) / 5 = 5
    assert np.allclose(e, [8.0, 5.0])
    with pytest.raises(ValueError, match="no visible"):
        hand_object_error(tips_pred, tips_gt, tips_vis * False, corners_pred, corners_gt, corners_vis * False)


def test_eq23_fingertips_are_the_msra21_tips():
    assert TIPS == (4, 8, 12, 16, 20)
    assert [MSRA21.joints[i] for i in TIPS] == ["index_tip", "middle_tip", "ring_tip", "pinky_tip", "thumb_tip"]


def test_result_file_round_trip_and_bad_files(tmp_path):
    joints = np.random.default_rng(0).uniform(100, 700, (4, 14, 3))
    path = tmp_path / "r.txt"
    write_results(path, joints)
    assert np.allclose(read_results(path, 14), joints, atol=5e-4)
    cases = {
        "cols.txt": "1 2 3\n",
        "nan.txt": " ".join(["nan"] * 42) + "\n",
        "blank.txt": " ".join(["1"] * 42) + "\n\n" + " ".join(["1"] * 42) + "\n",
        "empty.txt": "",
        "text.txt": " ".join(["x"] * 42) + "\n",
    }
    messages = {"cols.txt": "3 fields, expected 42", "nan.txt": "NaN", "blank.txt": ":2: blank line",
                "empty.txt": "empty", "text.txt": "not a number"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(ValueError, match=messages[name]):
            read_results(tmp_path / name, 14)
    with pytest.raises(FileNotFoundError, match="not found"):
        read_results(tmp_path / "missing.txt", 14)
    with pytest.raises(ValueError, match="NaN"):
        write_results(tmp_path / "w.txt", np.full((1, 14, 3), np.nan))


def test_compare_cli_json_table_plot_and_errors(published, tmp_path, capsys):
    labels = str(published / "nyu_test_groundtruth_label.txt")
    result = str(published / "TPAMI19_NYU_Generalized_Feedback.txt")
    plot = tmp_path / "curve.png"
    assert main(["compare", "--dataset", "nyu", "--labels", labels, result, "--json", "--plot", str(plot)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["name"] == "TPAMI19_NYU_Generalized_Feedback"
    assert rows[0]["mean_mm"] == pytest.approx(10.89, abs=0.01)
    assert {"frac_max_20", "frac_max_30", "frac_max_40"} <= rows[0].keys()
    assert plot.stat().st_size > 10_000 and plot.read_bytes()[:4] == b"\x89PNG"
    assert main(["compare", "--dataset", "nyu", "--labels", labels, result]) == 0
    assert "TPAMI19_NYU_Generalized_Feedback" in capsys.readouterr().out

    short = tmp_path / "short.txt"
    short.write_text("".join(open(result).readlines()[:10]))
    assert main(["compare", "--dataset", "nyu", "--labels", labels, str(short)]) == 2
    assert "10 frames, but the labels have 8252" in capsys.readouterr().err
    assert main(["compare", "--dataset", "hands", "--labels", labels, result]) == 2
    assert "unknown dataset 'hands'" in capsys.readouterr().err
