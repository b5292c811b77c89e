"""Every papermill notebook (nbs/ files not starting with a number) runs end to end with preset='smoke' and
writes a results.json with its expected keys, measured numbers finite, unmeasured metrics null, and the PNGs it
names on disk."""
import json
import math
from pathlib import Path

import papermill as pm
import pytest
from PIL import Image

from vitok.verdict import VERDICTS

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
    assert "\nseeds = None" in "".join(cells[0]["source"]), f"{nb.name}: every figure notebook takes `seeds = None` (issue 26)"


@pytest.mark.parametrize("nb", FIGURE_NBS, ids=[p.stem for p in FIGURE_NBS])
def test_verdicts_computed_from_claims_in_the_presets(nb):
    "No verdict typed in a notebook: claims are judged by vitok.verdict (show_claims / judge_claims), results written by write_results."
    code = "\n".join("".join(c["source"]) for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code")
    assert "claim(" not in code.replace("show_claims(", "").replace("judge_claims(", ""), f"{nb.name}: a claim built by hand"
    assert "show_verdict(" not in code, f"{nb.name}: show_verdict types the rule in the notebook; use show_claims"
    assert "write_results(out" in code and 'write_json(out / "results.json"' not in code, \
        f"{nb.name}: write results.json with vitok.verdict.write_results (machine, claims.json)"


CHECK_CELL = "from vitok.presets.figure import check_parameters; check_parameters()   # refuse a misspelt -p NAME before any work"


@pytest.mark.parametrize("nb", FIGURE_NBS, ids=[p.stem for p in FIGURE_NBS])
def test_parameters_checked_right_after_parameters_cell(nb):
    "papermill injects -p values in a cell after the tagged one; the next cell refuses a name not declared, before any work."
    cells = json.loads(nb.read_text())["cells"]
    k = next(i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", []))
    assert all(c["cell_type"] != "code" for c in cells[:k]), f"{nb.name}: code runs before the parameters cell"
    assert "check_parameters" not in "".join(cells[k]["source"]), f"{nb.name}: the check must follow papermill's injected cell"
    nxt = cells[k + 1]
    assert nxt["cell_type"] == "code" and "".join(nxt["source"]).strip() == CHECK_CELL, \
        f"{nb.name}: the cell after the parameters cell must be {CHECK_CELL!r}"


# The check is the same one-line cell in every notebook (the test above), so a kernel run of three (about 10 s each:
# a kernel start and the vitok import) proves it end to end without 24 kernel starts in the default run.
TYPO_NBS = [NBS / f"{n}.ipynb" for n in ("fig2_sweep", "generate_tiny", "tab7_video_generation")]


@pytest.mark.parametrize("nb", TYPO_NBS, ids=[p.stem for p in TYPO_NBS])
def test_misspelt_parameter_refused_before_any_work(nb, tmp_path):
    "-p prest smoke (a typo) stops at the check cell, naming the unknown name and the declared ones; nothing after it runs."
    out_dir, executed = tmp_path / "out", tmp_path / nb.name
    with pytest.raises(pm.PapermillExecutionError) as e:
        pm.execute_notebook(str(nb), str(executed), parameters={"prest": "smoke", "out_dir": str(out_dir)},
                            kernel_name="python3", cwd=str(nb.parent), progress_bar=False)
    assert e.value.ename == "ValueError", (e.value.ename, e.value.evalue)
    assert "unknown parameter prest" in e.value.evalue, e.value.evalue
    declared = e.value.evalue.split(" takes ", 1)[1]
    assert "preset" in declared and "out_dir" in declared, e.value.evalue
    cells = [c for c in json.loads(executed.read_text())["cells"] if c["cell_type"] == "code"]
    k = next(i for i, c in enumerate(cells) if "".join(c["source"]).strip() == CHECK_CELL)
    assert cells[k]["execution_count"] is not None and all(c["execution_count"] is None for c in cells[k + 1:]), nb.name
    assert not (out_dir / "results.json").exists() and not out_dir.exists()


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
    arm = r["dit_arm"]                       # one DiT on the stage-1 latents, decoded by the stage-1 and the stage-2 decoder
    assert arm["same_latents"] is True and arm["decoder_tensors_changed"] > 0 and "fig10_dit_arm.png" in r["figures"]
    assert set(arm["reports"]) == {"stage 1", "stage 2 (GAN)"} and arm["cfg"] == 1.5
    n = {rep["samples"] for rep in arm["reports"].values()}
    assert len(n) == 1 and n.pop() >= 10                                             # both decoders read the same samples
    for rep in arm["reports"].values():
        for k in ("ref_fid", "ref_is") if arm["gen_metric"] == "ref_fid" else ("gfid", "gis"):
            if k in arm["not_measured"]: assert rep["metrics"].get(k) is None
            else: assert finite(rep["metrics"][k]) and rep["metrics"][k] >= 0, (k, rep)


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


def check_fig14_15_samples(r):
    "Grids at CFG 4.0 named in figures; on the digits, reference-classifier metrics per CFG scale (never gFID)."
    assert r["grid_cfg"] == 4.0 and r["grids"] and all(g in r["figures"] for g in r["grids"].values())
    assert finite(r["runtime_s"]) and r["sample_steps"] >= 1
    if r["preset"] == "paper": return
    recs = r["cfg_sweep"]["digits"]
    cfgs = [x["cfg"] for x in recs]
    assert cfgs == sorted(cfgs) and 1.0 in cfgs and 4.0 in cfgs and "cfg_sweep.png" in r["figures"]
    for x in recs:
        assert 0 <= x["class_accuracy"] <= 1 and x["samples"] >= 10, x
        assert finite(x["ref_fid"]) and x["ref_fid"] >= 0 and finite(x["ref_is"]) and x["ref_is"] >= 1 - 1e-6, x
        assert not {"gfid", "gis"} & set(x), x
    assert r["metrics_kind"].startswith("reference classifier") and r["generator"]["dit_size"].startswith("DiT-")


def check_tab6_generation(r):
    "Table 6's peer rows as printed; our sizes counted; our gFID / gIS None with a reason unless measured (paper)."
    assert len(r["paper"]["rows"]) == 5 and r["sizes"]["256p"]["tokens"] == 256 and r["sizes"]["512p"]["tokens"] == 1024
    for res, s in r["sizes"].items():
        assert abs(s["dit_params_m"] - 675) / 675 < 0.01 and finite(s["tokenizer_gflops"]) and finite(s["dit_gflops"]), (res, s)
    assert r["sizes"]["512p"]["dit_gflops"] > 4 * r["sizes"]["256p"]["dit_gflops"]
    for res, o in r["ours"].items():
        if o["why_missing"]: assert o["gfid"] is None and o["gis"] is None and res in r["not_measured"], (res, o)
        else: assert finite(o["gfid"]) and o["gfid"] >= 0 and finite(o["gis"]) and o["gis"] >= 1, (res, o)
    if r["preset"] == "paper": return
    assert all(o["gfid"] is None and o["gis"] is None for o in r["ours"].values())
    d = r["digits"]
    assert 0 <= d["class_accuracy"] <= 1 and all(finite(d[k]) and d[k] >= 0 for k in ("ref_fid", "ref_is", "ref_fid_floor"))
    assert not {"gfid", "gis"} & set(d) and d["samples"] >= 10 and r["figures"] == ["tab6_generation.png"]


def check_fig5_generation(r):
    "One record per tokenizer and CFG scale; val_psnr measured; generation metrics numbers where measured, None where not."
    runs, cfgs = r["runs"], {x["cfg"] for x in r["runs"]}
    assert len(cfgs) >= 2 and len({(x["p"], x["c"]) for x in runs}) * len(cfgs) == len(runs)
    assert r["gen_metric"] in ("ref_fid", "gfid")
    for x in runs:
        assert {"p", "c", "E", "cfg", "val_psnr", "gen_fid", "gen_is", "class_accuracy"} <= set(x), x
        assert x["E"] == (x["tokens"] * x["c"]) and finite(x["val_psnr"]) and 0 < x["val_psnr"] < 100, x
        for k, metric in (("gen_fid", r["gen_metric"]), ("gen_is", r["gen_metric"].replace("fid", "is"))):
            if metric in r["not_measured"]: assert x[k] is None, (k, x)
            else: assert finite(x[k]) and x[k] >= 0, (k, x)
        ca = x["class_accuracy"]
        assert (ca is None) if r["gen_metric"] == "gfid" else (finite(ca) and 0 <= ca <= 1), x
    assert finite(r["fit_psnr"]["slope"]) and r["fit_psnr"]["n"] == len(runs) // len(cfgs)
    for s, best in r["best_per_p"].items():
        assert set(best) == {str(p) for p in {x["p"] for x in runs}}
        for p, b in best.items():
            if b is not None: assert b["at_largest_c"] == (b["c"] == max(x["c"] for x in runs if x["p"] == int(p)))
        assert 0 <= r["patches_not_best_at_largest_c"][s] <= len(best)
    assert r["figures"] == ["fig5_generation_vs_E.png"] and finite(r["seconds"]["total"])


def check_fig8_9_scaling_generation(r):
    "One record per pair and CFG scale; each size step holds the other half fixed; verdicts follow from the steps."
    runs, cfgs = r["runs"], sorted({x["cfg"] for x in r["runs"]})
    assert len(cfgs) >= 2 and len({x["pair"] for x in runs}) * len(cfgs) == len(runs)
    for x in runs:
        assert x["pair"] == f"{x['encoder']}-{x['decoder']}" and finite(x["val_psnr"]) and 0 < x["val_psnr"] < 100, x
        assert finite(x["enc_params_m"]) and finite(x["dec_params_m"]), x
        for k, metric in (("gen_fid", r["gen_metric"]), ("gen_is", r["gen_metric"].replace("fid", "is"))):
            if metric in r["not_measured"]: assert x[k] is None, (k, x)
            else: assert finite(x[k]) and x[k] >= 0, (k, x)
    by = {(x["pair"], x["cfg"]): x for x in runs}
    for part, other in (("encoder", "decoder"), ("decoder", "encoder")):
        n = 0
        for s, steps in r["steps"][part].items():
            for st in steps:
                a, b = by[(st["from"], float(s))], by[(st["to"], float(s))]
                assert a[other] == b[other] and a[part] != b[part], st                    # the other half is fixed
                assert b[f"{part[:3]}_params_m"] > a[f"{part[:3]}_params_m"], st          # from smaller to bigger
                if st["d_gen_fid"] is not None: assert abs(st["d_gen_fid"] - (b["gen_fid"] - a["gen_fid"])) < 1e-9; n += 1
        v = r["verdicts"][part]
        assert v["steps"] == n and v["worse"] + v["better"] == n and 0 <= v["beyond_sampling_spread"] <= n
    assert (r["encoder_harmful"] is None) == (r["verdicts"]["encoder"]["steps"] == 0)
    assert r["figures"] == ["fig8_9_generation.png"] and finite(r["seconds"]["total"])


def check_fig13_frames(r):
    "Frame counts at one pixels-per-float; all measured on the same held-out clips; the verdict follows from the runs."
    runs, res = r["runs"], r["eval"]["resolution"]
    assert len(runs) >= 3 and [x["frames"] for x in runs] == sorted({x["frames"] for x in runs})
    assert len({x["pixels_per_float"] for x in runs}) == 1 and len({(x["q"], x["p"], x["c"]) for x in runs}) == 1
    for x in runs:
        assert {"frames", "q", "p", "c", "E", "pixels_per_float", "val_psnr", "val_ssim"} <= set(x)
        assert x["E"] == x["tokens"] * x["c"] and x["tokens"] == x["frames"] // x["q"] * (res // x["p"]) ** 2
        assert math.isclose(x["pixels_per_float"], x["frames"] * res * res * 3 / x["E"])
        assert finite(x["val_psnr"]) and 0 < x["val_psnr"] < 100 and finite(x["val_ssim"]) and -1 <= x["val_ssim"] <= 1
        assert len(x["clip_psnr"]) == r["eval"]["clips"] and r["eval"]["frames"] == runs[-1]["frames"]
        check_metrics(x["name"], x["own_clips"], r["not_measured"], keys=("psnr", "ssim", "rfid", "rfvd"))
    assert [(s["from"], s["to"]) for s in r["steps"]] == [(a["frames"], b["frames"]) for a, b in zip(runs, runs[1:])]
    assert r["more_frames_better"] == all(b["val_psnr"] > a["val_psnr"] for a, b in zip(runs, runs[1:]))
    assert math.isclose(r["psnr_gain_db"], runs[-1]["val_psnr"] - runs[0]["val_psnr"])
    assert r["figures"] == ["fig13_frames.png", "fig13_clip.png"] and finite(r["seconds"]["total"])


def check_tab5_video_recon(r):
    "Table 5's peers as printed; our three rows counted against the paper's GFLOPs; metrics only with checkpoints."
    rows = {"S-B/4x8", "S-B/8x8", "S-B/4x16"}
    assert set(r["sizes"]) == set(r["ours"]) == set(r["paper"]["vitok"]) == rows
    assert set(r["paper"]["peers"]) == {"TATS", "MAGViT", "MAGViTv2", "LARP-L-Long"}
    for v, s in r["sizes"].items():
        assert s["tokens"] == r["paper"]["vitok"][v][2] and finite(s["params_m"]) and finite(s["gflops"])
        assert abs(s["gflops_err_pct"]) < 3 and abs(s["params_err_pct"]) < 3 and s["gflops"] < 505.3
        o = r["ours"][v]
        if o["metrics"] is None: assert o["why_not_measured"]
        else: check_metrics(v, o["metrics"], o["not_measured"], keys=("psnr", "ssim", "rfid", "rfvd"))
    assert r["fewer_gflops_than_larp"] is True
    s = r["stand_in"]
    if r["preset"] != "paper":
        assert s["pixels_per_float"] == 48 and s["E"] == s["tokens"] * s["channels"]
        check_metrics("stand-in", s["metrics"], s["not_measured"], keys=("psnr", "ssim", "rfid", "rfvd"))
    assert r["figures"] == ["tab5_sizes.png"] and finite(r["seconds"]["total"])


def check_tab7_video_generation(r):
    "Table 7's 8 rows as printed; our 3 rows' sizes counted; gFID / gFVD None with a reason unless measured; the tiny video DiT's numbers."
    rows = r["paper"]["rows"]
    assert len(rows) == 8 and [x["gfvd"] for x in rows[-3:]] == [27.44, 52.71, 92.46] and [x["tokens"] for x in rows[-3:]] == [1024, 512, 256]
    s = r["sizes"]
    assert [s[v]["tokens"] for v in ("S-B/4x8", "S-B/8x8", "S-B/4x16")] == [1024, 512, 256]
    for v, x in s.items():
        assert x["E"] == x["tokens"] * 16 and all(finite(x[k]) and x[k] > 0 for k in
                                                  ("tokenizer_params_m", "tokenizer_gflops", "dit_params_m", "dit_gflops")), (v, x)
    assert s["S-B/4x8"]["dit_gflops"] > s["S-B/8x8"]["dit_gflops"] > s["S-B/4x16"]["dit_gflops"]
    for v, o in r["ours"].items():
        if o["why_missing"]: assert o["gfid"] is None and o["gfvd"] is None and v in r["not_measured"], (v, o)
        else: assert finite(o["gfid"]) and o["gfid"] >= 0 and finite(o["gfvd"]) and o["gfvd"] >= 0, (v, o)
    assert finite(r["runtime_s"])
    if r["preset"] == "paper": return
    assert all(o["gfid"] is None and o["gfvd"] is None for o in r["ours"].values())
    t = r["tiny"]
    g = t["generator"]
    assert g["frames"] > 1 and len(g["grid"]) == 3 and g["grid"][0] > 1 and g["num_classes"] == 2 and g["dit_size"].startswith("DiT-")
    assert finite(g["val_psnr"][-1]) and 0 < g["val_psnr"][-1] < 100 and all(finite(v) and v >= 0 for v in g["val_loss"])
    cfgs = [x["cfg"] for x in t["cfg_runs"]]
    assert 2.0 in cfgs and cfgs == sorted(cfgs)
    for x in t["cfg_runs"] + [t["real_heldout"]]:
        assert 0 <= x["agreement"] <= 1 and x["chance"] == 0.5 and x["clips"] >= 4, x
        assert all(finite(m) and m >= 0 for m in x["motion"].values()), x
    assert not {"gfid", "gfvd"} & set(t) and set(t["clips"]) == {"generated.mp4", "generated.gif", "real.mp4", "real.gif"}
    assert r["figures"] == ["tab7_clips.png", "tab7_video_generation.png"]


def check_fig16_video_samples(r):
    "Clips at CFG 2.0 saved as MP4 and GIF (and one MP4 per clip); on the built-in videos, the source agreement (not gFVD)."
    assert r["cfg"] == 2.0 and r["sample_steps"] >= 1 and finite(r["runtime_s"])
    assert r["videos"]["mp4"] == "samples.mp4" and r["videos"]["gif"] == "samples.gif"
    assert len(r["videos"]["each"]) == len(r["classes"]) * r["per_class"] and r["figures"] == ["fig16_frames.png"]
    c, t, h, w = r["clip_shape"]
    assert c == 3 and t > 1 and h == w
    if r["preset"] == "paper": return
    a = r["source_agreement"]
    assert 0 <= a["agreement"] <= 1 and 0 <= a["real_heldout"] <= 1 and a["clips"] == len(r["videos"]["each"]) and a["chance"] == 0.5
    assert r["metrics_kind"].startswith("source agreement") and r["generator"]["num_classes"] == 2


def check_fig11_video_sweep(r):
    "Fig 11: one record per video tokenizer (p, q, c, E, held-out val_psnr / val_ssim), the image line, the E ratio."
    assert r["runs"] and r["image_runs"] and r["ratio_definition"] and "video_vs_image_E_ratio" in r
    for run in r["runs"]:
        assert {"p", "q", "c", "E", "val_psnr", "val_ssim"} <= set(run), run
        assert run["E"] == run["tokens"] * run["c"] == (run["frames"] // run["q"]) * (run["resolution"] // run["p"]) ** 2 * run["c"]
        assert finite(run["val_psnr"]) and 0 < run["val_psnr"] < 100 and finite(run["val_ssim"]), run
        for k in ("rfid", "rfvd"):
            v = run[f"val_{k}"]
            assert v is None if k in r["not_measured"] else finite(v), (run["name"], k, v)
    for run in r["image_runs"]:
        assert run["E"] == run["tokens"] * run["c"] and finite(run["val_psnr"]) and finite(run["val_ssim"]), run
    assert r["fits"]["val_psnr"]["n"] == len(r["runs"])
    assert all(r["fits"][f"val_{k}"] is None for k in ("rfid", "rfvd") if k in r["not_measured"])
    v, frames = r["video_vs_image_E_ratio"], r["runs"][0]["frames"]
    assert v is None or (finite(v) and v > 0 and abs(r["video_vs_image_E_ratio_per_frame"] - v / frames) < 1e-9)
    if r["preset"] == "tiny":
        assert len(r["runs"]) >= 10 and len({x["p"] for x in r["runs"]}) >= 2 and len({x["q"] for x in r["runs"]}) >= 3
        assert r["octaves"] >= 4 and r["fits"]["val_psnr"]["r"] >= 0.9 and finite(v)


def check_fig12_video_detail(r):
    "Fig 12: equal-E groups across q, every smaller-q minus larger-q pair, and yes/no verdicts."
    assert r["runs"] and r["equal_E"] and isinstance(r["smaller_q_better"], bool) and isinstance(r["E_dominates"], bool)
    by = {x["name"]: x for x in r["runs"]}
    for run in r["runs"]:
        assert run["E"] == run["tokens"] * run["c"] and finite(run["val_psnr"]) and finite(run["val_ssim"]), run
    pairs = []
    for g in r["equal_E"]:
        rs = [by[n] for n in g["runs"]]
        assert {x["E"] for x in rs} == {g["E"]} and len({x["q"] for x in rs}) >= 2, g
        for p in g["pairs"]:
            a, b = by[p["smaller_q"]], by[p["larger_q"]]
            assert a["q"] < b["q"] and a["E"] == b["E"] and p["same_c"] == (a["c"] == b["c"]), p
            assert abs(p["psnr_diff_db"] - (a["val_psnr"] - b["val_psnr"])) < 1e-9
            pairs.append(p)
    assert r["n_pairs"] == len(pairs) and r["pairs_smaller_q_better"] == sum(p["psnr_diff_db"] > 0 for p in pairs)
    assert r["smaller_q_better"] == (r["pairs_smaller_q_better"] > len(pairs) / 2 and r["mean_psnr_diff_db"] > 0)


def check_fig19_latent_vitok(r):
    "Latent runs over l at one c and simple runs at the same E: E = l x c (L x c), equal-E pairs and verdicts follow from the runs."
    runs, simple, s = r["runs"], r["simple"], r["settings"]
    assert len(runs) == len(s["latent_tokens"]) >= 2 and len(simple) == len(s["simple_channels"])
    for x in runs + simple:
        assert finite(x["val_psnr"]) and 0 < x["val_psnr"] < 100 and finite(x["val_ssim"]), x
        assert finite(x["mflops"]) and x["mflops"] > 0 and x["E"] == x["tokens"] * x["c"], x
        for k in ("rfid", "ris"):
            if k in r["not_measured"]: assert x[f"val_{k}"] is None, x
    assert all(x["kind"] == "latent" and x["tokens"] == x["l"] and x["c"] == s["channels"] for x in runs)
    assert all(x["kind"] == "simple" and x["l"] is None for x in simple)
    assert sorted(x["l"] for x in runs) == sorted(s["latent_tokens"])
    lat, sim = {x["E"]: x for x in runs}, {x["E"]: x for x in simple}
    assert len(r["equal_E"]) == len(set(lat) & set(sim)) >= 1
    for p in r["equal_E"]:
        assert abs(p["d_psnr"] - (lat[p["E"]]["val_psnr"] - sim[p["E"]]["val_psnr"])) < 1e-9
        assert abs(p["flops_ratio"] - lat[p["E"]]["mflops"] / sim[p["E"]]["mflops"]) < 1e-9 and p["flops_ratio"] > 1, p
    assert abs(r["max_gap_db"] - max(abs(p["d_psnr"]) for p in r["equal_E"])) < 1e-9
    assert r["within_gap"] == (r["max_gap_db"] <= s["max_gap_db"] and len(r["equal_E"]) == len(runs))
    rr = r["fits"]["latent"]["psnr"]["r"]
    assert r["log_E_fit_ok"] == (finite(rr) and rr >= s["min_r"])
    assert [f["l"] for f in r["paper_flops"]] == [64, 128, 256, 512, 1024] and all(f["ratio"] > 1 for f in r["paper_flops"])
    for x in runs + simple:                              # tokens in use: counted from each token's KL, E in use from them
        assert len(x["token_kl"]) == x["tokens"] and all(finite(k) and k >= -1e-6 for k in x["token_kl"]), x["name"]
        assert x["tokens_in_use"] == sum(k > r["kl_in_use_nats"] for k in x["token_kl"]) and x["E_in_use"] == x["tokens_in_use"] * x["c"]
    if r["linear"] is not None:                          # PCA codes fitted on the pool: one row per E of the runs, rising with E
        assert [x["E"] for x in r["linear"]] == sorted({x["E"] for x in runs + simple})
        assert any(x["patch_pca_psnr"] is not None for x in r["linear"])
        for k in ("patch_pca_psnr", "image_pca_psnr"):
            v = [x[k] for x in r["linear"] if x[k] is not None]
            assert all(finite(a) and 0 < a < 100 for a in v) and all(b >= a - 0.05 for a, b in zip(v, v[1:])), (k, v)
    else: assert s["pool"] == 0
    assert r["figures"] and all(n.endswith(".png") for n in r["figures"])


def check_fig20_mask_vitok(r):
    "One Mask model per kind decoded at each k: E = k x c, the trained k flagged, monotonic / versus-plain / better-kind follow."
    runs, s = r["runs"], r["settings"]
    assert {x["kind"] for x in runs} == {"simple", "latent"}
    for x in runs:
        assert x["E"] == x["k"] * x["c"] and x["c"] == s["channels"] and finite(x["val_psnr"]) and 0 < x["val_psnr"] < 100, x
        assert finite(x["val_ssim"]), x
    for kd in ("simple", "latent"):
        rows = sorted((x for x in runs if x["kind"] == kd), key=lambda x: x["k"])
        ks = [x["k"] for x in rows]
        assert len(ks) == len(set(ks)) and (not s["every_k"] or ks == list(range(1, ks[-1] + 1)))
        tr = [x for x in rows if x["trained_k"]]
        assert len(tr) >= 2 and tr[-1]["k"] == ks[-1] and all(b["k"] == 2 * a["k"] for a, b in zip(tr, tr[1:]))
        assert r["monotonic"][kd] == all(b["val_psnr"] > a["val_psnr"] for a, b in zip(tr, tr[1:]))
        drops = [(a["k"], b["k"]) for a, b in zip(rows, rows[1:]) if b["val_psnr"] <= a["val_psnr"]]
        assert [(d["from"], d["to"]) for d in r["drops_every_k"][kd]] == drops and r["monotonic_every_k"][kd] == (not drops)
    cell = {(x["kind"], x["k"]): x for x in runs}
    assert len(r["plain_simple"]) == len(s["simple_channels"]) == len(r["versus_plain"])
    for p, v in zip(r["plain_simple"], r["versus_plain"]):
        assert finite(p["val_psnr"]) and p["E"] == p["tokens"] * p["c"] == v["E"], (p, v)
        for kd in ("simple", "latent"):
            if v[f"{kd}_k"] is not None:
                m = cell[(kd, v[f"{kd}_k"])]
                assert m["E"] == v["E"] and abs(v[f"{kd}_minus_plain"] - (m["val_psnr"] - p["val_psnr"])) < 1e-9
    for b in r["kind_better"]:
        d = cell[("simple", b["k"])]["val_psnr"] - cell[("latent", b["k"])]["val_psnr"]
        assert abs(b["simple_minus_latent"] - d) < 1e-9 and b["better"] == ("simple" if d > 0 else "latent")
    assert len(r["figures"]) == 2 and all(n.endswith(".png") for n in r["figures"])


def check_fig18_gan_ablation(r):
    "Six stage-2 arms from one stage 1: the paper's disc-lr ratios, weights, which arm trains the encoder; findings are booleans."
    names = ["no GAN", "disc lr 1e-5", "disc lr 2e-5", "disc lr 4e-5", "full fine-tuning", "weight 0.1, disc lr 1e-5"]
    assert [a["name"] for a in r["arms"]] == names and r["figure"] == "fig18" and "fig18_gan_ablation.png" in r["figures"]
    for a in r["arms"] + [r["stage1"]]:
        check_metrics(a["name"], {"psnr": a["val_psnr"], "ssim": a["val_ssim"], **{k: a[k] for k in ("lpips", "rfid", "ris")}},
                      r["not_measured"])
        assert finite(a["detail"]) and a["detail"] > 0 and 0 <= a["val_ssim"] <= 1, a
    by = {a["name"]: a for a in r["arms"]}
    lr = [by[n]["disc_lr"] for n in names[1:4]]                       # the paper's 1e-5 : 2e-5 : 4e-5, maybe scaled
    assert abs(lr[1] / lr[0] - 2) < 1e-6 and abs(lr[2] / lr[0] - 4) < 1e-6
    assert [by[n]["paper_disc_lr"] for n in names[1:4]] == [1e-5, 2e-5, 4e-5]
    assert by["full fine-tuning"]["disc_lr"] == lr[1] and by["weight 0.1, disc lr 1e-5"]["disc_lr"] == lr[0]
    assert [a["gan_weight"] for a in r["arms"]] == [0.0, 0.05, 0.05, 0.05, 0.05, 0.1]
    for a in r["arms"]:           # only full fine-tuning trains (changes) the encoder; the discriminator is read where a GAN is on
        assert a["train_encoder"] == (a["name"] == "full fine-tuning") == (a["encoder_tensors_changed"] > 0), a
        assert (a["disc_loss_end"] is None) == (a["gan_weight"] == 0) and (a["disc_loss_end"] is None or finite(a["disc_loss_end"]))
    assert r["quality_metric"] in ("rfid", "detail") and all(isinstance(v, bool) for v in r["findings"].values())
    assert set(r["findings"]) == {"best_0.05_2e-5", "decoder_only_beats_full", "no_gan_gains_nothing", "gan_lowers_fidelity"}


CHECKS = {"fig5_generation": check_fig5_generation, "fig8_9_scaling_generation": check_fig8_9_scaling_generation,
          "fig2_sweep": check_fig2, "fig3_recon_over_E": check_fig3, "fig4_resolution": check_fig4,
          "fig6_7_scaling": check_fig6_7, "fig10_losses": check_fig10, "tab2_precision": check_tab2,
          "tab1_sizes": check_tab1, "tab3_4_peers": check_tab3_4, "quickstart": check_quickstart,
          "train_tiny": check_train_tiny, "generate_tiny": check_generate_tiny,
          "fig14_15_samples": check_fig14_15_samples, "tab6_generation": check_tab6_generation,
          "fig13_frames": check_fig13_frames, "tab5_video_recon": check_tab5_video_recon,
          "tab7_video_generation": check_tab7_video_generation, "fig16_video_samples": check_fig16_video_samples,
          "fig11_video_sweep": check_fig11_video_sweep, "fig12_video_detail": check_fig12_video_detail,
          "fig19_latent_vitok": check_fig19_latent_vitok, "fig20_mask_vitok": check_fig20_mask_vitok,
          "fig18_gan_ablation": check_fig18_gan_ablation}


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
    m = r["machine"]                                   # what its last digits depend on (issue 26)
    assert m["cores"] >= 1 and m["torch"] and m["cpu"] and m["numpy"] and m["torch_threads"] >= 1, m
    claims = json.loads((out_dir / "claims.json").read_text())
    assert claims == [c for c in claims if c["figure"] and c["verdict"] in VERDICTS and c["claim"]], claims
    assert all(c["verdict"] in ("not measured", "shown", "not shown") for c in claims if c.get("quantity")), \
        "one seed (smoke): a noisy claim is not measured, only noise-free ones are judged"
    CHECKS[nb.stem](r)


@pytest.mark.parametrize("name", ["fig14_15_samples", "tab6_generation"])
def test_samples_tab6_paper_preset_refuses_without_runs(name, tmp_path):
    "preset 'paper' without DiT runs stops before any work, naming what is missing."
    with pytest.raises(pm.PapermillExecutionError, match="missing: dit_run"):
        pm.execute_notebook(str(NBS / f"{name}.ipynb"), str(tmp_path / f"{name}.ipynb"),
                            parameters={"preset": "paper", "out_dir": str(tmp_path / "out")},
                            kernel_name="python3", cwd=str(NBS), progress_bar=False)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["fig5_generation", "fig8_9_scaling_generation"])
def test_generation_paper_preset_stops_before_training(name, tmp_path):
    "preset 'paper' without ImageNet, tokenizers, reference or Inception stops at once, naming each, and trains nothing."
    with pytest.raises(pm.PapermillExecutionError) as e:
        pm.execute_notebook(str(NBS / f"{name}.ipynb"), str(tmp_path / f"{name}.ipynb"),
                            parameters={"preset": "paper", "out_dir": str(tmp_path / "out")},
                            kernel_name="python3", cwd=str(NBS), progress_bar=False)
    msg = str(e.value)
    for what in ("stops before any training", "-p data", "-p val_data", "-p tokenizers", "-p reference"): assert what in msg, what
    assert not (tmp_path / "out").exists()


def test_fig10_paper_preset_stops_before_training(tmp_path):
    "fig10 (DiT arm included) at preset 'paper' without ImageNet stops before any run, naming the data parameters."
    with pytest.raises(pm.PapermillExecutionError, match="preset 'paper' needs the paper's data") as e:
        pm.execute_notebook(str(NBS / "fig10_losses.ipynb"), str(tmp_path / "fig10.ipynb"),
                            parameters={"preset": "paper", "out_dir": str(tmp_path / "out")},
                            kernel_name="python3", cwd=str(NBS), progress_bar=False)
    assert "-p data" in str(e.value) and not (tmp_path / "out").exists()


@pytest.mark.parametrize("name, needs", [("fig13_frames", ("stops before any training", "-p data", "-p val_data")),
                                         ("fig11_video_sweep", ("-p data", "-p val_data", "prepare_ucf101.py")),
                                         ("fig12_video_detail", ("-p data", "-p val_data", "prepare_ucf101.py")),
                                         ("tab5_video_recon", ("stops before any work", "-p ckpt_4x8", "-p ckpt_8x8", "-p ckpt_4x16", "-p ucf101")),
                                         ("tab7_video_generation", ("stops before any work", "-p dit_run_4x8", "-p data")),
                                         ("fig16_video_samples", ("stops before any work", "-p dit_run"))])
def test_video_paper_preset_stops_early(name, needs, tmp_path):
    "The video notebooks at preset 'paper' without data, checkpoints or runs stop before any work, naming each."
    with pytest.raises(pm.PapermillExecutionError) as e:
        pm.execute_notebook(str(NBS / f"{name}.ipynb"), str(tmp_path / f"{name}.ipynb"),
                            parameters={"preset": "paper", "out_dir": str(tmp_path / "out")},
                            kernel_name="python3", cwd=str(NBS), progress_bar=False)
    for what in needs: assert what in str(e.value), what
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["fig18_gan_ablation", "fig19_latent_vitok", "fig20_mask_vitok"])
def test_appendix_paper_preset_stops_before_training(name, tmp_path):
    "The appendix notebooks at preset 'paper' without ImageNet stop before any run, naming the data parameters."
    with pytest.raises(pm.PapermillExecutionError, match="preset 'paper' needs the paper's data") as e:
        pm.execute_notebook(str(NBS / f"{name}.ipynb"), str(tmp_path / f"{name}.ipynb"),
                            parameters={"preset": "paper", "out_dir": str(tmp_path / "out")},
                            kernel_name="python3", cwd=str(NBS), progress_bar=False)
    assert "-p data" in str(e.value) and not (tmp_path / "out").exists()
