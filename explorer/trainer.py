"""The headless trainer: one sizing method on one data set, emitting plain records.

The same object runs from the CLI and from the app's background thread. It never touches a
UI object: everything it says leaves through ``sink(record)`` as a dict of Python/numpy values
(DESIGN.md, "The flow of one run"). Record kinds: step, eval, units, event, knob, phase,
spectrum, tradeoff (method-specific kinds pass through untouched).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F

from explorer import trainer_state
from explorer.config import RunConfig, method_options_for, resolve_device
from explorer.data import load_dataset
from explorer.knobs import Knobs, knobs_for
from kernels.methods import StepContext, get_method
from kernels.records import EVAL, KNOB, STEP, TRADEOFF, UNITS
from kernels.sizable import SizableNet

Sink = Callable[[dict], None]
SPLITS = ("train", "val", "test")


class TrainingError(RuntimeError):
    """A run cannot go on (NaN loss, a failing method); the message says why."""


class Trainer:
    def __init__(
        self, config: RunConfig, knobs: Knobs | None = None, sink: Sink | None = None, dataset=None
    ) -> None:
        self.config = config
        self.knobs = knobs if knobs is not None else knobs_for(config.method, config.knobs)
        self.sink: Sink = sink or (lambda record: None)
        self.device = resolve_device(config.device)
        torch.manual_seed(config.seed)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.data = (
            dataset
            if dataset is not None
            else load_dataset(config.dataset, seed=config.seed, **config.dataset_options)
        )
        d = self.data
        # the whole data set lives on the device: no loader workers in the hot loop
        self.X = {s: self._to_device(getattr(d, f"X_{s}"), torch.float32) for s in SPLITS}
        self.Y = {s: self._to_device(getattr(d, f"y_{s}"), torch.long) for s in SPLITS}
        self.n_train = len(d.y_train)
        self.batch_size = min(config.batch_size, self.n_train)
        self.steps_per_epoch = max(1, self.n_train // self.batch_size)
        self.method = get_method(config.method)(**method_options_for(config))
        self.model: SizableNet = self.method.build(
            d.n_features,
            d.n_classes,
            list(config.hidden),
            image_shape=d.image_shape,
            generator=self.generator,
        )
        self.model.to(self.device)
        self.optimizer = self.method.make_optimizer(self.model, self.knobs)
        self.step_count = 0
        self._params_key: tuple[int, ...] | None = None
        self._params_count = 0
        self.cost = 0  # ShrinkNets sec. 4.4: input neurons summed over steps
        self.val_history: list[float] = []
        self.val_error_history: list[float] = []  # 1 - val_acc (the paper's VCE)
        self.phase_time = {"train": 0.0, "surgery": 0.0, "eval": 0.0}
        self._order = torch.empty(0, dtype=torch.long)
        self._cursor = 0
        self._knob_values = self.knobs.values()
        self._started = time.perf_counter()
        self._emit_units()

    def _to_device(self, array, dtype) -> torch.Tensor:
        return torch.tensor(np.asarray(array), dtype=dtype, device=self.device)

    # -- batches ---------------------------------------------------------------------------
    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Batches sampled without replacement within each epoch (nonparametric Table 3)."""
        if self._cursor + self.batch_size > len(self._order):
            self._order = torch.randperm(self.n_train, generator=self.generator)
            self._cursor = 0
        idx = self._order[self._cursor : self._cursor + self.batch_size].to(self.device)
        self._cursor += self.batch_size
        return self.X["train"][idx], self.Y["train"][idx]

    @property
    def epoch(self) -> float:
        return self.step_count / self.steps_per_epoch

    # -- one step --------------------------------------------------------------------------
    def _record_knob_changes(self) -> SimpleNamespace:
        """Record the knobs that changed since the last step; return this step's values.

        The step reads knobs only from the returned snapshot, so a slider moved mid-step
        acts from the next step on, exactly where its "knob" record says."""
        values = self.knobs.values()
        for name, new in values.items():
            old = self._knob_values.get(name)
            if old != new:
                self.sink(
                    {
                        "kind": KNOB,
                        "step": self.step_count,
                        "knob": name,
                        "old": float(old) if old is not None else math.nan,
                        "new": float(new),
                    }
                )
        self._knob_values = values
        return SimpleNamespace(**values)

    def step(self) -> dict:
        """One training step, then surgery; returns the step record it emitted."""
        knobs = self._record_knob_changes()
        t0 = time.perf_counter()
        if not self.model.training:  # train() walks every submodule: only when it changes
            self.model.train()
        x, y = self._next_batch()
        ctx = StepContext(
            self.model,
            self.optimizer,
            knobs,
            self.step_count,
            self.epoch,
            x,
            y,
            self.n_train,
            self.steps_per_epoch,
            self.generator,
            loss_fn=F.cross_entropy,
            val_history=self.val_history,
            val_error_history=self.val_error_history,
        )
        logits = self.model(x)
        loss = F.cross_entropy(logits, y)
        penalty = self.method.regularize(self.model, knobs)
        # a penalty without gradient (the static baseline's zero) adds nothing to backward
        objective = loss + penalty if torch.is_tensor(penalty) and penalty.requires_grad else loss
        loss_value = float(loss.detach())
        if not math.isfinite(loss_value):
            raise TrainingError(
                f"loss became {loss_value} at step {self.step_count}; the run "
                "stopped and keeps what it recorded. Try a smaller learning "
                "rate or lambda."
            )
        self.optimizer.zero_grad(set_to_none=True)
        objective.backward()
        self.method.configure(self.optimizer, knobs, ctx)
        self.optimizer.step()
        self.method.after_step(ctx)
        t1 = time.perf_counter()
        events = self.method.apply(ctx, self.method.propose(ctx))
        self.method.after_surgery(ctx, events)
        extra = self.method.records(ctx)
        t2 = time.perf_counter()
        self.phase_time["train"] += t1 - t0
        self.phase_time["surgery"] += t2 - t1
        for rec in [*events, *extra]:
            self.sink(rec)
        self.cost += self.model.input_neurons()
        self.step_count += 1
        acc = float((logits.argmax(1) == y).float().mean())
        sizes = list(self.model.hidden_sizes)
        record = {
            "kind": STEP,
            "step": self.step_count,
            "epoch": self.epoch,
            "loss": loss_value,
            "acc": acc,
            "penalty": float(torch.as_tensor(penalty).detach()),
            "sizes": sizes,
            "params": self._n_params(sizes),
            "cost": self.cost,
            "time": time.perf_counter() - self._started,
            "born": sum(e["event"] == "born" for e in events),
            "died": sum(e["event"] == "died" for e in events),
        }
        self.sink(record)
        if self.step_count % self.config.eval_every == 0:
            self.evaluate_and_emit()
        if self.step_count % self.config.units_every == 0 or events:
            self._emit_units()
        return record

    def _n_params(self, sizes: list[int]) -> int:
        """The parameter count, recounted only when the layer sizes change (walking every
        module's parameters each step costs ~0.4 ms)."""
        key = tuple(sizes)
        if self._params_key != key:
            self._params_key, self._params_count = key, self.model.n_params()
        return self._params_count

    def run(self, steps: int | None = None, progress: bool = False, stream=None) -> None:
        """Train ``steps`` steps; ``progress`` reports to ``stream`` (default stderr): a bar
        on a terminal, else a summary line every few seconds (:class:`Progress`)."""
        from explorer.progress import Progress

        steps = self.config.steps if steps is None else steps
        report = Progress(steps, stream) if progress else None
        for _ in range(steps):
            rec = self.step()
            if report is not None:
                report.update(rec)
        if report is not None:
            report.close()

    # -- evaluation --------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, split: str = "val") -> tuple[float, float]:
        """Mean cross-entropy and accuracy on a split, in chunks to bound memory."""
        self.model.eval()
        X, Y = self.X[split], self.Y[split]
        total_loss, correct = 0.0, 0
        for i in range(0, len(Y), 4096):
            logits = self.model(X[i : i + 4096])
            total_loss += float(F.cross_entropy(logits, Y[i : i + 4096], reduction="sum"))
            correct += int((logits.argmax(1) == Y[i : i + 4096]).sum())
        self.model.train()
        n = max(len(Y), 1)
        return total_loss / n, correct / n

    def evaluate_and_emit(self) -> dict:
        t0 = time.perf_counter()
        val_loss, val_acc = self.evaluate("val")
        self.val_history.append(val_loss)
        self.val_error_history.append(1.0 - val_acc)
        self.phase_time["eval"] += time.perf_counter() - t0
        elapsed = time.perf_counter() - self._started
        rec = {
            "kind": EVAL,
            "step": self.step_count,
            "val_loss": val_loss,
            "val_acc": val_acc,
            "samples_per_s": self.step_count * self.batch_size / max(elapsed, 1e-9),
            **{f"time_{k}": v for k, v in self.phase_time.items()},
        }
        self.sink(rec)
        self.sink(
            {
                "kind": TRADEOFF,
                "step": self.step_count,
                "method": self.config.method,
                "units": int(sum(self.model.hidden_sizes)),
                "params": self.model.n_params(),
                "val_loss": val_loss,
                "val_acc": val_acc,
                "lam": float(self.knobs.lam),
                "source": "run",
            }
        )
        return rec

    def unit_table(self) -> dict:
        """Per-unit table of the live network: layer, id, fan-in/out lengths, switch, age."""
        cols: dict[str, list[np.ndarray]] = {
            k: [] for k in ("layer", "unit_id", "fan_in", "fan_out", "switch", "age")
        }
        for layer in range(self.model.n_hidden):
            n = self.model.hidden_sizes[layer]
            switch = self.model.switch_values(layer)
            cols["layer"].append(np.full(n, layer, dtype=np.int64))
            cols["unit_id"].append(self.model.unit_ids[layer])
            cols["fan_in"].append(self.model.fan_in_norm(layer).cpu().numpy())
            cols["fan_out"].append(self.model.fan_out_norm(layer).cpu().numpy())
            cols["switch"].append(
                switch.cpu().numpy() if switch is not None else np.full(n, np.nan, dtype=np.float32)
            )
            cols["age"].append(self.step_count - self.model.birth_step[layer])
        return {k: np.concatenate(v) for k, v in cols.items()}

    def _emit_units(self) -> None:
        self.sink({"kind": UNITS, "step": self.step_count, **self.unit_table()})

    def summary(self) -> dict:
        """Final figures of the run (what ``session.json`` holds)."""
        val_loss, val_acc = self.evaluate("val")
        test_loss, test_acc = self.evaluate("test")
        return {
            "steps": self.step_count,
            "epochs": self.epoch,
            "sizes": list(self.model.hidden_sizes),
            "params": self.model.n_params(),
            "val_loss": val_loss,
            "val_acc": val_acc,
            "test_loss": test_loss,
            "test_acc": test_acc,
            "cost": self.cost,
            "device": str(self.device),
            "seconds": time.perf_counter() - self._started,
            "phase_time": dict(self.phase_time),
        }

    # -- snapshots (explorer.snapshot writes and reads these; explorer.trainer_state) -------
    def capture_state(self) -> dict:
        """Everything needed to continue this run exactly, with every tensor copied to CPU
        (:func:`explorer.trainer_state.capture_state`). Call it between steps."""
        return trainer_state.capture_state(self)

    @classmethod
    def from_state(
        cls,
        config: RunConfig,
        state: dict,
        knobs: Knobs | None = None,
        sink: Sink | None = None,
        dataset=None,
    ) -> Trainer:
        """A trainer that continues the run ``state`` (from ``capture_state``) was taken of.

        The model is built as the config says, then every parameter and buffer takes the saved
        tensor (and so the saved number of units), so the same steps follow as if the run had
        never stopped. Passed ``knobs`` are set to the saved values.
        """
        if knobs is None:
            knobs = Knobs(**state["knobs"])
        else:  # the caller's knobs (a UI's sliders) take the saved values
            knobs.param.update(**state["knobs"])
        trainer = cls(config, knobs=knobs, sink=None, dataset=dataset)
        trainer.load_state(state)
        trainer.sink = sink or (lambda record: None)
        return trainer

    def load_state(self, state: dict) -> None:
        """Put a ``capture_state`` dict back into this trainer (shapes may differ from now)."""
        trainer_state.load_state(self, state)
