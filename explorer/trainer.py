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

import numpy as np
import torch
import torch.nn.functional as F

from explorer.config import RunConfig, resolve_device
from explorer.data import load_dataset
from explorer.knobs import Knobs
from kernels.methods import StepContext, get_method

Sink = Callable[[dict], None]


class TrainingError(RuntimeError):
    """A run cannot go on (NaN loss, a failing method); the message says why."""


class Trainer:
    def __init__(self, config: RunConfig, knobs: Knobs | None = None, sink: Sink | None = None,
                 dataset=None) -> None:
        self.config = config
        self.knobs = knobs if knobs is not None else Knobs(**config.knobs)
        self.sink: Sink = sink or (lambda record: None)
        self.device = resolve_device(config.device)
        torch.manual_seed(config.seed)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.data = dataset if dataset is not None else load_dataset(
            config.dataset, seed=config.seed, **config.dataset_options)
        as_x = lambda a: torch.as_tensor(a, dtype=torch.float32, device=self.device)  # noqa: E731
        as_y = lambda a: torch.as_tensor(a, dtype=torch.long, device=self.device)  # noqa: E731
        d = self.data
        self.X = {"train": as_x(d.X_train), "val": as_x(d.X_val), "test": as_x(d.X_test)}
        self.Y = {"train": as_y(d.y_train), "val": as_y(d.y_val), "test": as_y(d.y_test)}
        self.n_train = len(d.y_train)
        self.batch_size = min(config.batch_size, self.n_train)
        self.steps_per_epoch = max(1, self.n_train // self.batch_size)
        self.method = get_method(config.method)(**config.method_options)
        self.model = self.method.build(d.n_features, d.n_classes, list(config.hidden),
                                       image_shape=d.image_shape,
                                       generator=self.generator).to(self.device)
        self.optimizer = self.method.make_optimizer(self.model, self.knobs)
        self.step_count = 0
        self.cost = 0  # ShrinkNets sec. 4.4: input neurons summed over steps
        self.val_history: list[float] = []
        self.phase_time = {"train": 0.0, "surgery": 0.0, "eval": 0.0}
        self._order = torch.empty(0, dtype=torch.long)
        self._cursor = 0
        self._knob_values = self.knobs.values()
        self._started = time.perf_counter()
        self._emit_units()

    # -- batches ---------------------------------------------------------------------------
    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Batches sampled without replacement within each epoch (nonparametric Table 3)."""
        if self._cursor + self.batch_size > len(self._order):
            self._order = torch.randperm(self.n_train, generator=self.generator)
            self._cursor = 0
        idx = self._order[self._cursor:self._cursor + self.batch_size].to(self.device)
        self._cursor += self.batch_size
        return self.X["train"][idx], self.Y["train"][idx]

    @property
    def epoch(self) -> float:
        return self.step_count / self.steps_per_epoch

    # -- one step --------------------------------------------------------------------------
    def _record_knob_changes(self) -> None:
        values = self.knobs.values()
        for name, new in values.items():
            old = self._knob_values.get(name)
            if old != new:
                self.sink({"kind": "knob", "step": self.step_count, "knob": name,
                           "old": float(old) if old is not None else math.nan,
                           "new": float(new)})
        self._knob_values = values

    def step(self) -> dict:
        """One training step, then surgery; returns the step record it emitted."""
        self._record_knob_changes()
        t0 = time.perf_counter()
        self.model.train()
        x, y = self._next_batch()
        ctx = StepContext(self.model, self.optimizer, self.knobs, self.step_count, self.epoch,
                          x, y, self.n_train, self.steps_per_epoch, self.generator,
                          loss_fn=F.cross_entropy, val_history=self.val_history)
        logits = self.model(x)
        loss = F.cross_entropy(logits, y)
        penalty = self.method.regularize(self.model, self.knobs)
        objective = loss + penalty
        loss_value = float(loss.detach())
        if not math.isfinite(loss_value):
            raise TrainingError(f"loss became {loss_value} at step {self.step_count}; the run "
                                "stopped and keeps what it recorded. Try a smaller learning "
                                "rate or lambda.")
        self.optimizer.zero_grad(set_to_none=True)
        objective.backward()
        self.method.configure(self.optimizer, self.knobs, ctx)
        self.optimizer.step()
        self.method.after_step(ctx)
        t1 = time.perf_counter()
        events = self.method.apply(ctx, self.method.propose(ctx))
        extra = self.method.records(ctx)
        t2 = time.perf_counter()
        self.phase_time["train"] += t1 - t0
        self.phase_time["surgery"] += t2 - t1
        for rec in [*events, *extra]:
            self.sink(rec)
        self.cost += self.model.input_neurons()
        self.step_count += 1
        acc = float((logits.argmax(1) == y).float().mean())
        record = {"kind": "step", "step": self.step_count, "epoch": self.epoch,
                  "loss": loss_value, "acc": acc,
                  "penalty": float(torch.as_tensor(penalty).detach()),
                  "sizes": list(self.model.hidden_sizes), "params": self.model.n_params(),
                  "cost": self.cost, "time": time.perf_counter() - self._started,
                  "born": sum(e["event"] == "born" for e in events),
                  "died": sum(e["event"] == "died" for e in events)}
        self.sink(record)
        if self.step_count % self.config.eval_every == 0:
            self.evaluate_and_emit()
        if self.step_count % self.config.units_every == 0 or events:
            self._emit_units()
        return record

    def run(self, steps: int | None = None, progress: bool = False) -> None:
        steps = self.config.steps if steps is None else steps
        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=steps, unit="step", dynamic_ncols=True)
        for _ in range(steps):
            rec = self.step()
            if bar is not None:
                bar.update(1)
                if self.step_count % 25 == 0:
                    bar.set_postfix(loss=f"{rec['loss']:.3f}", sizes=rec["sizes"])
        if bar is not None:
            bar.close()

    # -- evaluation --------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, split: str = "val") -> tuple[float, float]:
        """Mean cross-entropy and accuracy on a split, in chunks to bound memory."""
        self.model.eval()
        X, Y = self.X[split], self.Y[split]
        total_loss, correct = 0.0, 0
        for i in range(0, len(Y), 4096):
            logits = self.model(X[i:i + 4096])
            total_loss += float(F.cross_entropy(logits, Y[i:i + 4096], reduction="sum"))
            correct += int((logits.argmax(1) == Y[i:i + 4096]).sum())
        self.model.train()
        n = max(len(Y), 1)
        return total_loss / n, correct / n

    def evaluate_and_emit(self) -> dict:
        t0 = time.perf_counter()
        val_loss, val_acc = self.evaluate("val")
        self.val_history.append(val_loss)
        self.phase_time["eval"] += time.perf_counter() - t0
        elapsed = time.perf_counter() - self._started
        rec = {"kind": "eval", "step": self.step_count, "val_loss": val_loss, "val_acc": val_acc,
               "samples_per_s": self.step_count * self.batch_size / max(elapsed, 1e-9),
               **{f"time_{k}": v for k, v in self.phase_time.items()}}
        self.sink(rec)
        self.sink({"kind": "tradeoff", "step": self.step_count, "method": self.config.method,
                   "units": int(sum(self.model.hidden_sizes)), "params": self.model.n_params(),
                   "val_loss": val_loss, "val_acc": val_acc, "lam": float(self.knobs.lam),
                   "source": "run"})
        return rec

    def unit_table(self) -> dict:
        """Per-unit table of the live network: layer, id, fan-in/out lengths, switch, age."""
        cols: dict[str, list[np.ndarray]] = {k: [] for k in
                                              ("layer", "unit_id", "fan_in", "fan_out",
                                               "switch", "age")}
        for layer in range(self.model.n_hidden):
            n = self.model.hidden_sizes[layer]
            switch = self.model.switch_values(layer)
            cols["layer"].append(np.full(n, layer, dtype=np.int64))
            cols["unit_id"].append(self.model.unit_ids[layer])
            cols["fan_in"].append(self.model.fan_in_norm(layer).cpu().numpy())
            cols["fan_out"].append(self.model.fan_out_norm(layer).cpu().numpy())
            cols["switch"].append(switch.cpu().numpy() if switch is not None
                                  else np.full(n, np.nan, dtype=np.float32))
            cols["age"].append(self.step_count - self.model.birth_step[layer])
        return {k: np.concatenate(v) for k, v in cols.items()}

    def _emit_units(self) -> None:
        self.sink({"kind": "units", "step": self.step_count, **self.unit_table()})

    def summary(self) -> dict:
        """Final figures of the run (what ``session.json`` holds)."""
        val_loss, val_acc = self.evaluate("val")
        test_loss, test_acc = self.evaluate("test")
        return {"steps": self.step_count, "epochs": self.epoch,
                "sizes": list(self.model.hidden_sizes), "params": self.model.n_params(),
                "val_loss": val_loss, "val_acc": val_acc, "test_loss": test_loss,
                "test_acc": test_acc, "cost": self.cost, "device": str(self.device),
                "seconds": time.perf_counter() - self._started,
                "phase_time": dict(self.phase_time)}
