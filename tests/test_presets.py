"""Paper presets (explorer/presets.py): the registry, the command line, the page's menu, and
(slow) the result each preset's docstring promises."""

from __future__ import annotations

import param
import pytest

from explorer.cli import build_parser, main, run_config
from explorer.history import History
from explorer.knobs import Knobs
from explorer.page import KnobPanel, RunForm
from explorer.page.knob_panel import lifetime_for
from explorer.presets import PRESETS, TINY_RACE_OPTIONS, UnknownPresetError, get_preset
from explorer.trainer import Trainer
from kernels.methods import get_method
from kernels.methods.nonparametric import Nonparametric
from kernels.methods.shrinknets import ShrinkNets


def test_every_preset_builds_a_valid_run():
    assert {
        "nonparametric-mnist1d",
        "static-mnist1d-mlp",
        "tiny-race-digits",
        "tiny-race-mnist",
        "shrinknets-digits",
    } <= set(PRESETS)
    for preset in PRESETS.values():
        config = preset.config(device="cpu")
        get_method(config.method)(**config.method_options)  # options valid
        Knobs(**config.knobs)  # knobs within bounds
        assert preset.expected and preset.doc
    with pytest.raises(UnknownPresetError, match="did you mean 'tiny-race-digits'"):
        get_preset("tiny-race-digit")


def test_cli_preset_fills_the_run_and_explicit_arguments_win(capsys):
    parse = build_parser().parse_args
    cfg = run_config(parse(["run", "--preset", "tiny-race-digits"]))
    assert (cfg.method, cfg.dataset, cfg.hidden, cfg.steps, cfg.batch_size) == (
        "tiny",
        "digits",
        [1, 1],
        1500,
        100,
    )
    assert cfg.method_options == TINY_RACE_OPTIONS and cfg.knobs["growth_every"] == 10
    cfg = run_config(
        parse(
            [
                "run",
                "--preset",
                "tiny-race-digits",
                "--steps",
                "10",
                "--tau",
                "0.5",
                "--option",
                "neurons=random",
            ]
        )
    )
    assert cfg.steps == 10 and cfg.knobs["tau"] == 0.5
    assert cfg.method_options == {**TINY_RACE_OPTIONS, "neurons": "random"}
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "presets" in out and all(name in out for name in PRESETS)
    assert main(["run", "--preset", "nope", "--steps", "1", "--quiet"]) == 2


def test_page_preset_menu_fills_the_controls_and_method_sizes():
    knobs = Knobs()
    form = RunForm()
    form.on_preset = lambda values: [setattr(knobs, k, v) for k, v in values.items()]
    form.method = "shrinknets"  # a method chosen by hand: its own sizes and knob defaults
    assert form.hidden == "100,100"
    assert knobs.lam == ShrinkNets.default_knobs["lam"] != Knobs().lam
    form.method = "nonparametric"
    assert knobs.lam == Nonparametric.default_knobs["lam"] != ShrinkNets.default_knobs["lam"]
    form.method = "tiny"
    assert form.hidden == "1,1"
    form.preset = "nonparametric-mnist1d"
    assert (form.method, form.dataset, form.hidden, form.max_steps) == (
        "nonparametric",
        "mnist1d",
        "10,10",
        8000,
    )
    assert knobs.lam == 3e-3
    config, _ = form.config(get_preset("tiny-race-digits").config(), knobs.values())
    assert config.method_options == {"protocol": True, "patience": 50.0}
    assert config.eval_every == 100 and knobs.radial_lr == 1 / (50 * 3e-3)
    form.dataset = "digits"  # no longer the preset's setting: its options no longer apply
    config, _ = form.config(get_preset("tiny-race-digits").config(), knobs.values())
    assert config.method_options == {}


def test_radial_auto_checkbox_and_lifetime_beside_the_slider():
    knobs = Knobs(lam=1e-3)
    panel = KnobPanel(knobs, method="nonparametric")
    assert panel.radial_auto.value and "5 epochs" in panel.lifetime_pane.object
    assert "1/(5 lambda)" in panel.radial_auto.label
    knobs.lam = 2e-3  # auto: alpha_r follows lambda, the lifetime stays
    assert (
        "5 epochs" in panel.lifetime_pane.object
        and "alpha_r in use 100" in panel.lifetime_pane.object
    )
    with param.edit_constant(panel.widgets["radial_lr"]):  # the radial slider set by hand
        panel.widgets["radial_lr"].value_throttled = 25.0
    assert not knobs.radial_auto and not panel.radial_auto.value
    assert "20 epochs" in panel.lifetime_pane.object  # 1/(25 * 2e-3)
    panel.radial_auto.value = True
    assert knobs.radial_auto and "5 epochs" in panel.lifetime_pane.object
    # a data set that declares Table 3's lifetime (mnist1d: 50 epochs) sets the auto rule
    panel.lifetime = lifetime_for("mnist1d")
    assert "1/(50 lambda)" in panel.radial_auto.label
    assert "50 epochs" in panel.lifetime_pane.object and "alpha_r in use 10" in (
        panel.lifetime_pane.object
    )
    assert lifetime_for("teacher") == lifetime_for("my.npz") == 5.0


def test_the_page_shows_the_lifetime_of_the_chosen_data_set():
    from explorer.app import ExplorerApp

    app = ExplorerApp(dataset="digits")
    try:
        assert app.knob_panel.lifetime == 5.0
        app.form.dataset = "mnist1d"
        assert app.knob_panel.lifetime == 50.0 and "50 epochs" in (
            app.knob_panel.lifetime_pane.object
        )
    finally:
        app.close()


def test_radial_slider_shows_the_alpha_r_in_use():
    """With "auto" on the radial_lr slider shows 1/(lifetime lambda) (Table 3's rule) and
    follows lambda, not the hand value that waits underneath; a hand move takes over."""
    knobs = Knobs(lam=1e-3, radial_lr=20.0)
    panel = KnobPanel(knobs, method="nonparametric")
    slider = panel.widgets["radial_lr"]
    assert knobs.radial_auto and slider.value == pytest.approx(1 / (5 * 1e-3))
    assert "auto" in slider.name
    knobs.lam = 4e-3  # auto: the slider follows lambda
    assert slider.value == pytest.approx(1 / (5 * 4e-3))
    panel.lifetime = lifetime_for("mnist1d")  # and the data set's lifetime (50 epochs)
    assert slider.value == pytest.approx(1 / (50 * 4e-3))
    panel.radial_auto.value = False  # the hand value is in use again
    assert slider.value == 20.0 and "auto" not in slider.name
    panel.radial_auto.value = True
    with param.edit_constant(slider):  # moved by hand: auto off, the moved value in use
        slider.value_throttled = 35.0
    assert not knobs.radial_auto and knobs.radial_lr_in_use() == 35.0
    assert slider.value == 35.0 and "auto" not in slider.name


def _run(name: str, seed: int = 0) -> tuple[Trainer, History]:
    history = History()
    trainer = Trainer(get_preset(name).config(seed=seed, device="cpu"), sink=history.add)
    trainer.run(progress=False)
    return trainer, history


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_reaches_its_expected_result(name):
    trainer, history = _run(name)
    summary = trainer.summary()
    got = {
        "test_acc": summary["test_acc"],
        "first_layer": summary["sizes"][0],
        "units": sum(summary["sizes"]),
        "died": sum(e["event"] == "died" for e in history.rows.get("event", [])),
        "rejected": sum(r["rejected"] for r in history.rows.get("spectrum", [])),
    }
    drains = [r for r in history.rows.get("phase", []) if r["phase"] == "drain"]
    if drains:  # units shed between the start of the drain and the end of the run
        got["drain_shrink"] = sum(drains[0]["sizes"]) - sum(summary["sizes"])
    for key, (lo, hi) in get_preset(name).expected.items():
        assert lo <= got[key] <= hi, f"{name}: {key} = {got[key]} not in [{lo}, {hi}]"
