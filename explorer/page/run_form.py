"""The run form: what the next run trains (method, data set, sizes, seed, device, steps).

:meth:`RunForm.config` turns the form into a :class:`~explorer.config.RunConfig` (and the
uploaded data set, if one is chosen); a bad entry gives a one-line ``ValueError``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import panel as pn
import param

from explorer.config import MAX_STEPS, RunConfig
from explorer.data import DATASETS
from explorer.page.actions import Actions
from explorer.presets import PRESETS
from kernels.methods import METHODS

if TYPE_CHECKING:
    from explorer.data.dataset import Dataset

#: the data-set choice that takes a file from the browser
UPLOAD = "upload .npz/.csv"
DEVICES = ("auto", "cpu", "cuda")
#: the preset menu's entry for "no preset"
NO_PRESET = "(none)"


def parse_hidden(text: str) -> list[int]:
    """'10,10' or '10x10' -> [10, 10]; a clear message otherwise."""
    try:
        sizes = [int(s) for s in str(text).replace("x", ",").split(",") if s.strip()]
    except ValueError:
        raise ValueError(
            f"hidden sizes must be integers separated by commas, e.g. 10,10; got '{text}'"
        ) from None
    if not sizes or min(sizes) < 1:
        raise ValueError(f"hidden sizes must be integers >= 1, e.g. 10,10; got '{text}'")
    return sizes


class RunForm(pn.viewable.Viewer):
    """The controls of the next run; the widgets are built from these params.

    Choosing a method fills in its own starting sizes (``SizingMethod.default_hidden``);
    choosing a preset (:mod:`explorer.presets`) fills in method, data set, sizes and steps,
    hands its knobs to ``on_preset`` (the page sets the sliders) and its method and
    data-set options to the next run while the form still names its method and data set.
    """

    preset = param.Selector(
        default=NO_PRESET,
        objects=[NO_PRESET, *sorted(PRESETS)],
        doc="a paper's recipe (explorer.presets): fills the controls",
    )
    method = param.Selector(
        default="nonparametric",
        objects=sorted(METHODS),
        doc="sizing method (kernels.methods registry)",
    )
    dataset = param.Selector(
        default="digits",
        objects=[*DATASETS, UPLOAD],
        doc="built-in data set, or a .npz/.csv file you upload",
    )
    hidden = param.String(default="10,10", doc="starting hidden sizes, e.g. 10,10")
    seed = param.Integer(default=0, bounds=(0, None), doc="random seed of weights and data")
    device = param.Selector(
        default="auto", objects=list(DEVICES), doc="auto = CUDA when present, else CPU"
    )
    max_steps = param.Integer(
        default=0,
        bounds=(0, MAX_STEPS),
        doc="the run finishes after this many steps; 0 = it trains until you press stop",
    )

    @classmethod
    def params_from(cls, config: RunConfig) -> dict:
        """The form's values for ``config`` (a data set or device it cannot show is left
        at the form's default)."""
        out = {
            "method": config.method,
            "hidden": ",".join(str(h) for h in config.hidden),
            "seed": config.seed,
            "device": config.device if config.device in DEVICES else "auto",
        }
        if config.dataset in DATASETS:
            out["dataset"] = config.dataset
        return out

    def __init__(self, actions: Actions | None = None, **params) -> None:
        super().__init__(**params)
        #: runs the upload handler (messages, parsing off the event loop); None: plain calls
        self.actions = actions or Actions(lambda text, level="error": None)
        self.upload_dataset: Dataset | None = None
        #: called with a preset's knobs when one is chosen, or a method's own knob defaults
        #: when a method is chosen by hand (the page moves its sliders)
        self.on_preset = lambda knobs: None
        self._applying = False
        w = pn.widgets
        self.upload = w.FileInput(
            accept=".npz,.csv",
            visible=self.dataset == UPLOAD,
            description="X and y arrays (.npz) or a CSV whose last column is the label",
        )
        self.upload.param.watch(
            lambda e: self.actions.safe(self.load_upload, e.new, self.upload.filename), "value"
        )
        self.widgets = {
            "preset": w.Select.from_param(self.param.preset, label="preset (paper recipe)"),
            "method": w.Select.from_param(self.param.method, label="sizing method"),
            "dataset": w.Select.from_param(self.param.dataset, label="data set"),
            "hidden": w.TextInput.from_param(self.param.hidden, label="hidden sizes"),
            "seed": w.IntInput.from_param(self.param.seed),
            "device": w.Select.from_param(self.param.device),
            "max_steps": w.IntInput.from_param(
                self.param.max_steps, label="step limit (0 = until stopped)"
            ),
        }

    @param.depends("method", watch=True)
    def _method_sizes(self) -> None:
        """A method chosen by hand starts from its own sizes (ShrinkNets large, TINY [1, 1],
        nonparametric small) and its own knob defaults (``SizingMethod.default_knobs``,
        handed to ``on_preset``: the sliders move to them)."""
        cls = METHODS.get(self.method)
        if cls is not None and not self._applying:
            self.hidden = ",".join(str(h) for h in cls.default_hidden)
            self.on_preset(dict(cls.default_knobs))

    def name_method(self, method: str) -> None:
        """Name ``method`` in the form without moving the sizes and knobs to its defaults
        (a reopened snapshot keeps its own)."""
        self._applying = True
        try:
            self.method = method
        finally:
            self._applying = False

    @param.depends("preset", watch=True)
    def _apply_preset(self) -> None:
        preset = PRESETS.get(self.preset)
        if preset is None:
            return
        self._applying = True
        try:
            self.param.update(
                method=preset.method,
                dataset=preset.dataset,
                hidden=",".join(str(h) for h in preset.hidden),
                max_steps=preset.steps,
            )
        finally:
            self._applying = False
        cls = METHODS.get(preset.method)
        defaults = dict(cls.default_knobs) if cls is not None else {}
        self.on_preset({**defaults, **preset.knobs})

    def preset_config(self):
        """The chosen preset while the form still names its method and data set, else None."""
        preset = PRESETS.get(self.preset)
        if preset is not None and preset.method == self.method and preset.dataset == self.dataset:
            return preset
        return None

    @param.depends("dataset", watch=True)
    def _show_upload(self) -> None:
        self.upload.visible = self.dataset == UPLOAD

    @param.depends("method")
    def _method_doc(self):
        cls = METHODS.get(self.method)
        return f"<small>{cls.description if cls else ''}</small>"

    def load_upload(self, content: bytes | None, filename: str | None) -> None:
        """Read an uploaded .npz/.csv (size-limited, parsed off the event loop when served:
        :func:`explorer.data.upload.load_upload`, messages without the file's contents); a
        bad file gives a message and keeps the last one."""
        from explorer.data.upload import load_upload

        if content is None:
            return
        self.actions.in_background(
            load_upload, lambda ds: self._use_upload(ds), content, filename, self.seed
        )

    def _use_upload(self, dataset: Dataset) -> None:
        self.upload_dataset = dataset
        self.actions.notify(
            f"loaded {dataset.name}: {len(dataset.y_train)} training samples", level="info"
        )

    def config(self, base: RunConfig, knobs: dict) -> tuple[RunConfig, object]:
        """The run configuration from the form (``base`` gives what the form does not show;
        its method and data-set options apply when the form still names its method and data
        set) and the uploaded data set, if chosen (else None)."""
        if self.method not in METHODS:
            raise ValueError(f"unknown method '{self.method}'; accepted: {', '.join(METHODS)}")
        dataset, name = None, self.dataset
        if self.dataset == UPLOAD:
            if self.upload_dataset is None:
                raise ValueError("choose a .npz or .csv file to upload first")
            dataset, name = self.upload_dataset, self.upload_dataset.name
        preset = self.preset_config() if dataset is None else None
        common = {
            "method": self.method,
            "dataset": name,
            "hidden": parse_hidden(self.hidden),
            "seed": self.seed,
            "device": self.device,
            "steps": self.max_steps or MAX_STEPS,
            "units_every": base.units_every,
            "knobs": dict(knobs),
        }
        if preset is not None:
            return RunConfig(
                **common,
                batch_size=preset.batch_size,
                eval_every=preset.eval_every,
                method_options=dict(preset.method_options),
                dataset_options=dict(preset.dataset_options),
            ), None
        same_data = dataset is None and base.dataset == name
        config = RunConfig(
            **common,
            batch_size=base.batch_size,
            eval_every=base.eval_every,
            method_options=base.method_options if base.method == self.method else {},
            dataset_options=base.dataset_options if same_data else {},
        )
        return config, dataset

    def __panel__(self):
        w = self.widgets
        return pn.Column(
            w["preset"],
            w["method"],
            pn.pane.Markdown(self._method_doc, margin=(0, 10)),
            w["dataset"],
            self.upload,
            w["hidden"],
            w["seed"],
            w["device"],
            w["max_steps"],
            sizing_mode="stretch_width",
        )
