"""Every papermill notebook (nbs/ files not starting with a number) runs end to end with preset='smoke' and
writes a results.json with its expected keys, measured numbers finite, unmeasured metrics null, and the PNGs it
names on disk."""
import json
import math
from pathlib import Path

import papermill as pm
import pytest
from PIL import Image

NBS = Path(__file__).resolve().parents[1] / "nbs"
FIGURE_NBS = sorted(p for p in NBS.glob("*.ipynb") if not p.name[0].isdigit())
METRICS = ("psnr", "ssim", "lpips", "rfid", "ris")


def parameters_cell(nb_path):
    nb = json.loads(nb_path.read_text())
    cells = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    return cells, nb


@pytest.mark.parametrize("nb", FIGURE_NBS, ids=[p.stem for p in FIGURE_NBS])
def test_parameters_cell(nb):
    cells, meta = parameters_cell(nb)
    assert len(cells) == 1, f"{nb.name}: needs exactly one cell tagged 'parameters' (papermill)"
    first = "".join(cells[0]["source"]).splitlines()[0]
    assert first == 'preset = "tiny"', f"{nb.name}: the parameters cell must start with preset = \"tiny\""
    assert meta["metadata"]["kernelspec"]["name"] == "python3"


def finite(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_metrics(where, metrics, not_measured, keys=METRICS):
    "psnr / ssim are numbers; every other metric is a number if measured and None if it was reported missing."
    for k in keys:
        if k not in metrics: continue
        if k in not_measured: assert metrics[k] is None, f"{where}: {k} reported missing but has a value {metrics[k]!r}"
        else: assert finite(metrics[k]), f"{where}: {k} = {metrics[k]!r} is not a finite number"
    assert finite(metrics["psnr"]) and 0 < metrics["psnr"] < 100 and finite(metrics["ssim"]), (where, metrics)


def check_sweep(r, keys):
    "fig2 / fig4: one record per grid point, metrics at top level."
    assert r["runs"] and all(set(keys) <= set(run) for run in r["runs"]), keys
    for run in r["runs"]:
        assert finite(run["E"]) and run["E"] == run["tokens"] * run["c"]
        check_metrics(run["name"], run, r["not_measured"])
    return r


def check_fig2(r):
    check_sweep(r, ("name", "variant", "p", "c", "E", "psnr", "ssim", "rfid", "ris", "gflops"))
    assert {"fits", "equal_E_spread_db", "mean_equal_E_spread_db", "octaves"} <= set(r)
    assert finite(r["fits"]["psnr"]["slope"]) and r["fits"]["psnr"]["n"] == len(r["runs"])
    assert all(r["fits"][k] is None for k in ("rfid", "ris") if k in r["not_measured"])


def check_fig3(r):
    assert len(r["runs"]) >= 2 and all(-1 <= run["fine_detail_corr"] <= 1 and finite(run["psnr"]) for run in r["runs"])
    assert sorted((run["E"] for run in r["runs"]), reverse=True) == [run["E"] for run in r["runs"]]


def check_fig4(r):
    check_sweep(r, ("name", "variant", "p", "c", "resolution", "E", "pixels_per_float", "psnr", "ssim", "rfid", "ris"))
    assert len({run["resolution"] for run in r["runs"]}) == 2


def check_fig6_7(r):
    assert len(r["runs"]) >= 3 and {"effects_per_size_step", "pearson_log_params", "decoder_vs_double_E"} <= set(r)
    for label, run in r["runs"].items():
        check_metrics(label, run["metrics"], r["not_measured"])
        assert finite(run["enc_params_m"]) and finite(run["dec_params_m"]) and run["seeds"] == len(run["per_seed"])


def check_fig10(r):
    run = {k: a for k, a in r["arms"].items() if "not_run" not in a}
    assert len(run) >= 4 and set(r["order"]) == set(r["arms"]) and r["stage2_init"] in run
    for k, a in run.items():
        check_metrics(k, a["metrics"], r["not_measured"])
        assert finite(a["detail"]) and a["stage"] in (1, 2)
    for k, a in r["arms"].items():
        if "not_run" in a: assert a["metrics"] == {} and a["detail"] is None and k in r["not_run"]


def check_tab2(r):
    assert {x["precision"] for x in r["runs"]} == {"bf16", "fp32"} and r["fp32_tf32"] is False
    for x in r["runs"]: check_metrics(f"{x['precision']} c={x['c']}", x["metrics"], r["not_measured"])


def check_tab1(r):
    assert r["rows"] and all(finite(x["ours_params_m"]) and finite(x["ours_gflops"]) for x in r["rows"])


def check_tab3_4(r):
    for name, o in r["ours"].items():
        assert finite(o["params_m"]) and finite(o["gflops"])
        if r["preset"] != "paper": assert o["metrics"] is None and o["why_missing"], name


def check_quickstart(r):
    assert finite(r["stats"]["params_m"]["total"]) and r["stats"]["variant"] == r["variant"]


def check_train_tiny(r):
    assert len(r["evals"]) >= 2 and all(finite(e["val_psnr"]) for e in r["evals"]) and finite(r["psnr_gain_db"])
    assert r["lpips_weight"] == 0


def check_generate_tiny(r):
    for k in ("class_accuracy", "class_accuracy_step0"): assert 0 <= r[k] <= 1, (k, r[k])
    for k in ("ref_fid", "ref_is", "ref_fid_step0", "ref_fid_floor"): assert finite(r[k]) and r[k] >= 0, (k, r[k])
    assert r["samples"] >= 10 and r["figures"] == ["samples.png"] and finite(r["runtime_s"]["total"])


CHECKS = {"fig2_sweep": check_fig2, "fig3_recon_over_E": check_fig3, "fig4_resolution": check_fig4,
          "fig6_7_scaling": check_fig6_7, "fig10_losses": check_fig10, "tab2_precision": check_tab2,
          "tab1_sizes": check_tab1, "tab3_4_peers": check_tab3_4, "quickstart": check_quickstart,
          "train_tiny": check_train_tiny, "generate_tiny": check_generate_tiny}


def test_every_figure_notebook_has_a_check():
    assert {p.stem for p in FIGURE_NBS} == set(CHECKS)


@pytest.mark.parametrize("nb", FIGURE_NBS, ids=[p.stem for p in FIGURE_NBS])
def test_figure_notebook_smoke(nb, tmp_path):
    out_dir = tmp_path / "out"
    pm.execute_notebook(str(nb), str(tmp_path / nb.name), parameters={"preset": "smoke", "out_dir": str(out_dir)},
                        kernel_name="python3", cwd=str(nb.parent), progress_bar=False)
    r = json.loads((out_dir / "results.json").read_text())
    assert r["preset"] == "smoke"
    for png in r["figures"]:
        with Image.open(out_dir / png) as im:
            assert im.format == "PNG" and min(im.size) > 50, png
    if nb.stem not in ("tab3_4_peers",):
        assert r["figures"], f"{nb.name} names no figure"
    CHECKS[nb.stem](r)
